"""`prosaas doctor` and `prosaas info` against real workers and a real scheduler: their lines and exit codes."""
import signal
import subprocess
import sys

import pytest
from dramatiq import Message

from prosaas.health import scheduler_status
from prosaas.queue_stats import queues_without_consumer
from prosaas.runtime import get_runtime
from prosaas.settings import ALL_QUEUES
from tests.support.environment import REPO_ROOT
from tests.support.processes import run_cli, start_scheduler, wait_for


@pytest.fixture
def scheduler(tmp_logs):
    role = start_scheduler(tmp_logs)
    yield role
    role.stop(timeout=20)


def _scheduler_alive() -> bool:
    runtime = get_runtime()
    return scheduler_status(runtime.redis, runtime.keys)["alive"]


def _doctor_lines(completed) -> dict:
    return {line.split()[1]: line.split()[0] for line in completed.stdout.splitlines() if not line.startswith("doctor")}


def test_doctor_and_info_pass_with_every_queue_consumed_and_a_scheduler(worker_factory, scheduler, clean_queues):
    worker = worker_factory(queues=",".join(ALL_QUEUES))
    wait_for(lambda: not queues_without_consumer(get_runtime()) and _scheduler_alive(), 30,
             what="every queue consumed and the scheduler heartbeat")
    doctor = run_cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    checks = _doctor_lines(doctor)
    for name in ("settings", "database", "migrations", "broker", "consumers", "scheduler"):
        assert checks.get(name) == "OK", doctor.stdout
    assert "doctor: all checks passed" in doctor.stdout

    info = run_cli("info")
    assert info.returncode == 0, info.stdout + info.stderr
    assert "scheduler: alive" in info.stdout and "STUCK" not in info.stdout
    worker_pids = {str(pid) for pid in worker.child_pids()} | {str(worker.pid)}
    assert any(pid in info.stdout for pid in worker_pids), info.stdout


def _no_broadcasts_consumer():
    # A worker killed by an earlier test counts as alive until its heartbeat is WORKER_DEAD_AFTER_SECONDS old.
    wait_for(lambda: "broadcasts" in queues_without_consumer(get_runtime()), 30, what="no live consumer of broadcasts")


def test_doctor_fails_and_info_exits_nonzero_when_a_queue_has_messages_and_no_consumer(broker, clean_queues):
    _no_broadcasts_consumer()
    doctor = run_cli("doctor")
    assert doctor.returncode == 1
    checks = _doctor_lines(doctor)
    assert checks["consumers"] == "FAIL" and checks["database"] == "OK" and checks["broker"] == "OK"
    assert "no live worker consumes" in doctor.stdout

    assert run_cli("info").returncode == 0  # no consumer, but nothing waiting either
    broker.enqueue(Message(queue_name="broadcasts", actor_name="record_run", args=(), options={},
                           kwargs={"business_id": 1, "marker": "stuck"}))
    info = run_cli("info")
    assert info.returncode == 1
    assert "STUCK: broadcasts" in info.stdout
    stuck_row = next(line for line in info.stdout.splitlines() if line.startswith("broadcasts"))
    assert stuck_row.split()[1] == "1" and "no consumer" in stuck_row


def test_info_watch_redraws_in_place_until_interrupted(broker, clean_queues, tmp_path):
    _no_broadcasts_consumer()
    broker.enqueue(Message(queue_name="broadcasts", actor_name="record_run", args=(), options={},
                           kwargs={"business_id": 1, "marker": "watch"}))
    output = tmp_path / "watch.out"
    with open(output, "w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "prosaas", "info", "--watch", "--interval", "0.3"],
                                   cwd=REPO_ROOT, stdout=sink, stderr=subprocess.STDOUT, text=True)
        try:
            # Redrawn from the top (cursor home), not scrolled: at least three frames.
            wait_for(lambda: output.read_text().count("\x1b[H") >= 3, 90, what="three redraws")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(20)
    out = output.read_text()
    assert "prosaas info, every 0.3s" in out and "STUCK: broadcasts" in out
    assert process.returncode == 1  # the stuck queue still counts after Ctrl-C
