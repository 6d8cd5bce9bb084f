"""Dramatiq's own CLI works on the same broker and actors; LOG_FORMAT=json gives one JSON object per line."""
import json
import os
import subprocess
import sys

import pytest

from tests.machinery.helpers import marker, start_job, wait_status
from tests.support import sample_actors
from tests.support.environment import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_plain_dramatiq_cli_runs_our_actors_with_our_middleware(business, tmp_path):
    log_path = tmp_path / "dramatiq.log"
    env = {**os.environ, "LOG_FORMAT": "json", "PROSAAS_OWN_LOGGING": "1"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "prosaas.broker", "actors", "tests.support.sample_actors",
             "--processes", "1", "--threads", "2", "--queues", "default", "--skip-logging"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        m = marker()
        job_id = start_job(sample_actors.record_run, business, marker=m)
        wait_status(job_id, "completed", timeout=60)
    finally:
        process.terminate()
        process.wait(30)
    events = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    picked = [e for e in events if e.get("event") == "JOB_PICKED" and e.get("job_id") == job_id]
    assert picked and picked[0]["queue"] == "default" and picked[0]["actor"] == "record_run"
    assert any(e.get("event") == "JOB_DONE" and e.get("job_id") == job_id and int(e["duration_ms"]) >= 0
               for e in events)
