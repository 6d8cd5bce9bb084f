"""Dramatiq's and periodiq's conventions: SIGHUP reloads `prosaas worker` and `prosaas scheduler`,
`prosaas worker --reload` restarts on a source edit, and periodiq next to (or instead of) our scheduler
fires each tick once and counts as a scheduler."""
import json
import os
import signal
import subprocess
import sys

from prosaas.health import scheduler_status
from prosaas.periodic_dedup import tick_minute
from prosaas.runtime import get_runtime
from tests.support.environment import REPO_ROOT
from tests.support.processes import RoleProcess, run_cli, start_scheduler, start_worker, wait_for


def _scheduler() -> dict:
    runtime = get_runtime()
    return scheduler_status(runtime.redis, runtime.keys)


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_sighup_reloads_the_worker_in_place(tmp_logs):
    worker = start_worker(tmp_logs, queues="default")
    try:
        before = _children(worker.pid)
        worker.signal(signal.SIGHUP)
        wait_for(lambda: worker.log().count("WORKER_STARTED") >= 2 and _children(worker.pid) - before, 90,
                 what="workers started again after SIGHUP")
        assert worker.process.poll() is None  # the same process, re-executed: supervisord sees no exit
    finally:
        worker.stop()


def test_sighup_reloads_the_scheduler_and_its_old_entry_is_gone(tmp_logs):
    scheduler = start_scheduler(tmp_logs)
    try:
        mine = lambda: [i for i in _scheduler()["instances"] if i.get("pid") == scheduler.pid]  # noqa: E731
        old_ids = {i["id"] for i in wait_for(mine, 30, what="the scheduler registered")}
        scheduler.signal(signal.SIGHUP)
        wait_for(lambda: scheduler.log().count("SCHEDULER_STARTED") >= 2, 60, what="the scheduler started again")
        current = wait_for(lambda: (lambda m: m if m and not {i["id"] for i in m} & old_ids else None)(mine()), 30,
                           what="one fresh registry entry")
        assert len(current) == 1 and scheduler.process.poll() is None
        assert "SCHEDULER_RELOADING" in scheduler.log()
    finally:
        scheduler.stop()


def test_worker_reload_restarts_on_a_source_edit(make_install):
    install = make_install(WORKER_PROCESSES="1")
    log_path = install.root / "worker.log"
    with open(log_path, "ab") as sink:  # the copy's code: its own folder and PYTHONPATH
        process = subprocess.Popen([sys.executable, "-m", "prosaas", "worker", "--reload", "--queues", "default"],
                                   cwd=install.root, env=install.env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        started = lambda: log_path.read_text(errors="replace").count("WORKER_STARTED")  # noqa: E731
        wait_for(lambda: started() >= 1, 90, what="the worker booted")
        before = _children(process.pid)
        source = install.root / "actors" / "diagnostics.py"
        source.write_text(source.read_text() + "\n# edited by the reload test\n")
        wait_for(lambda: started() >= 2 and _children(process.pid) - before, 90, what="a new worker process")
        assert "WORKER_RELOAD path=actors/diagnostics.py" in log_path.read_text(errors="replace")
        assert process.poll() is None
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _periodiq(tmp_logs, name: str) -> RoleProcess:
    role = RoleProcess([], tmp_logs / f"{name}.log")
    log = open(role.log_path, "ab")
    role._log = log
    role.process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "periodiq"), "-v",
                                     "prosaas.broker", "actors"], cwd=REPO_ROOT,
                                    env=role.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return role


def _reminder_ticks_queued() -> dict[str, int]:
    runtime = get_runtime()
    per_minute: dict[str, int] = {}
    for raw in runtime.redis.hvals(runtime.keys.queue("default") + ".msgs"):
        message = json.loads(raw)
        if message["actor_name"] == "reminders_tick":
            minute = tick_minute(message["options"]["scheduled_at"])
            per_minute[minute] = per_minute.get(minute, 0) + 1
    return per_minute


def test_periodiq_next_to_our_scheduler_enqueues_each_tick_once(tmp_logs, clean_queues):
    # Earlier tests' schedulers already fired this minute in the same namespace (their messages are gone with
    # clean_queues): start from no tick recorded, so the first sender of each tick really enqueues it.
    runtime = get_runtime()
    for pattern in ("tick-enqueued", "tick"):
        for key in runtime.redis.scan_iter(match=runtime.keys(pattern, "*")):
            runtime.redis.delete(key)
    ours = start_scheduler(tmp_logs)
    periodiq = _periodiq(tmp_logs, "periodiq")
    try:
        # Both fire the minute they start in; wait until one of them was refused a tick the other had sent.
        wait_for(lambda: "TICK_DUPLICATE_DROPPED" in ours.log() + periodiq.log(), 150, interval=1,
                 what="both schedulers sending the same tick")
        ticks = _reminder_ticks_queued()
        assert ticks and set(ticks.values()) == {1}, ticks
    finally:
        periodiq.stop()
        ours.stop()


def test_doctor_and_info_recognise_periodiq_alone(tmp_logs, clean_queues):
    # The schedulers of this file's earlier tests are stopped, but a periodiq sender counts as alive for 90 s
    # after its last tick: forget their records rather than wait them out (this namespace is this process's).
    runtime = get_runtime()
    runtime.redis.delete(runtime.keys("schedulers"), runtime.keys("scheduler", "senders"))
    assert not _scheduler()["alive"]
    periodiq = _periodiq(tmp_logs, "periodiq-alone")
    try:
        wait_for(lambda: _scheduler()["alive"], 90, interval=0.5, what="periodiq seen as a scheduler")
        doctor = run_cli("doctor")
        scheduler_line = next(line for line in doctor.stdout.splitlines() if line.split()[1:2] == ["scheduler"])
        assert scheduler_line.startswith("OK"), doctor.stdout
        info = run_cli("info")
        assert "scheduler: alive" in info.stdout and "(periodiq)" in info.stdout, info.stdout
    finally:
        periodiq.stop()
