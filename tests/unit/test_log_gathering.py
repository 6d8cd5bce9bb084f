"""A gevent worker's event lines are gathered and written once per loop turn, in order, before a group ack,
and all of them by the worker's shutdown (which ends with os._exit: no atexit)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.environment import REPO_ROOT


def test_gathered_lines_are_written_per_turn_in_order_and_all_by_shutdown(tmp_path):
    log_file = tmp_path / "worker.log"
    answer = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "support" / "log_gathering.py"), str(log_file)],
                            capture_output=True, text=True, cwd=REPO_ROOT, env=os.environ.copy(), timeout=60)
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout.strip().splitlines()[-1])
    assert report["during_turn"] == 0  # gathered: no write per line
    assert report["after_turn"] == 100  # one write when the loop turned
    assert report["after_flush"] == 100 + 3 + 1 + 50 + 1
    assert report["after_stop"] == report["after_flush"] + 5
    assert report["after_stopped_line"] == report["after_stop"] + 1  # no longer gathered: written at once
    lines = log_file.read_text().splitlines()
    assert [line.split("n=")[1] for line in lines[:103]] == [str(n) for n in range(103)]
    assert "QUEUE_SLOW queue=default" in lines[103]  # after the lines gathered before it
    assert sorted(int(line.split("n=")[1]) for line in lines[104:154]) == list(range(50))
    assert lines[-1].endswith("WORKER_STOPPED pid=1")
