"""Claim 5: recovery time after SIGKILL of a worker (default timings) and after a Redis restart.

SIGKILL: 2 worker roles (1 process x 10 greenlets each) run 6 tracked 8-second jobs; the role holding
jobs is SIGKILLed mid-job; we time until its messages are back in the queue (its ack sets gone) and until
every job's row is completed (by the surviving role), with the default WORKER_HEARTBEAT_SECONDS=5,
WORKER_DEAD_AFTER_SECONDS=30. Same host: the survivor sees the victim's pid is gone (goal: requeued < 10 s).
Other host: the victim runs in its own pid namespace (`unshare --pid --fork --mount-proc`), so the survivor
cannot judge its pid and only the heartbeat timeout applies (goal: completed < 45 s).
Redis restart: web + worker on a PRIVATE valkey (appendonly); the server is stopped for 3 s and started
again; time from it being back until (a) the API answers 202 again, (b) a job sent then has completed.
Prints: BENCH recovery requeue_s=<trial,..> sigkill_s=<trial,..> xhost_requeue_s=.. xhost_s=.. redis_api_s=..
redis_job_s=.. redis_down_answers=..
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import REPO_ROOT, BenchEnv, result_line  # noqa: E402

DEFAULTS = {"WORKER_HEARTBEAT_SECONDS": "5", "WORKER_DEAD_AFTER_SECONDS": "30"}


def statuses(job_ids):
    from sqlalchemy import select

    from db.models.core import BackgroundJob
    from prosaas.runtime import get_runtime

    with get_runtime().database.session() as session:
        return dict(session.execute(select(BackgroundJob.id, BackgroundJob.status)
                                    .where(BackgroundJob.id.in_(job_ids))).all())


def start_in_own_pid_namespace(env: dict, log_dir: Path):
    """A worker role in a pid namespace of its own: to the other workers it is as if on another host."""
    import subprocess

    from tests.support.processes import RoleProcess, wait_for

    role = RoleProcess(["worker", "--queues", "default", "--module", "bench.support.actors"],
                       log_dir / f"xhost-{time.monotonic_ns()}.log",
                       {**env, "WORKER_PROCESSES": "1", "WORKER_GREENLETS": "10"})
    role._log = open(role.log_path, "ab")
    role.process = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", sys.executable,
                                     "-m", "prosaas", *role.args], cwd=str(REPO_ROOT), env=role.env,
                                    stdout=role._log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: "WORKER_STARTED" in role.log(), 60, what="worker boot in its own pid namespace")
    return role


def sigkill_trial(bench: BenchEnv, business_id: int, *, other_host: bool = False) -> tuple[float, float]:
    """(seconds until the victim's messages are back in the queue, seconds until every job completed)."""
    from bench.support import actors
    from bench.support.drain import start_ours, stop_process
    from prosaas.jobs import enqueue_tracked
    from prosaas.runtime import get_runtime
    from tests.support.processes import wait_for

    env = {**bench.env, **DEFAULTS}
    client = get_runtime().redis
    victim = (start_in_own_pid_namespace(env, bench.tmp) if other_host
              else start_ours(env, bench.tmp, processes=1, greenlets=10))
    survivor = None
    try:
        job_ids = [enqueue_tracked(actors.sleeper, business_id=business_id, kwargs={"seconds": 8}).job_id
                   for _ in range(6)]
        wait_for(lambda: list(statuses(job_ids).values()).count("running") == 6, 60, what="jobs running")
        survivor = start_ours(env, bench.tmp, processes=1, greenlets=10)
        time.sleep(1)
        held = [key for key in client.scan_iter(match=f"{bench.namespace}:__acks__.*") if client.scard(key)]
        killed_at = time.monotonic()
        victim.kill_group()
        wait_for(lambda: not any(client.exists(key) for key in held), 600, interval=0.1,
                 what="the killed worker's messages requeued")
        requeued = time.monotonic() - killed_at
        wait_for(lambda: all(s == "completed" for s in statuses(job_ids).values()), 600, interval=0.5,
                 what="killed jobs completed")
        return requeued, time.monotonic() - killed_at
    finally:
        stop_process(victim)
        if survivor is not None:
            stop_process(survivor)


def redis_restart(bench: BenchEnv, key: str) -> dict:
    import requests

    from bench.support.drain import start_ours
    from bench.support.web import serve_ours, stop, wait_http
    from tests.support.private_servers import PrivateValkey
    from tests.support.processes import free_port, wait_for

    valkey = PrivateValkey().start()
    env = {**bench.env, **DEFAULTS, "REDIS_URL": valkey.url}
    worker = web = None
    headers = {"Authorization": f"Bearer {key}"}
    answers = {}
    try:
        worker = start_ours(env, bench.tmp, processes=1, greenlets=10)
        port = free_port()
        web = serve_ours(port, bench.tmp, env)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/readyz")
        assert requests.post(f"{base}/api/diagnostics/ping", json={}, headers=headers, timeout=10).status_code == 202
        valkey.stop()
        down_until = time.monotonic() + 3
        while time.monotonic() < down_until:
            code = requests.post(f"{base}/api/diagnostics/ping", json={}, headers=headers, timeout=15).status_code
            answers[code] = answers.get(code, 0) + 1
            time.sleep(0.2)
        valkey.start()
        back = time.monotonic()
        while True:
            response = requests.post(f"{base}/api/diagnostics/ping", json={}, headers=headers, timeout=15)
            if response.status_code == 202:
                break
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            time.sleep(0.05)
        api_seconds = time.monotonic() - back
        job_id = response.json()["job_id"]
        wait_for(lambda: statuses([job_id]).get(job_id) == "completed", 300, interval=0.1, what="job after restart")
        job_seconds = time.monotonic() - back
    finally:
        for role in (web, worker):
            if role is not None:
                stop(role)
        valkey.close()
    return {"redis_api_s": round(api_seconds, 2), "redis_job_s": round(job_seconds, 2),
            "redis_down_answers": ";".join(f"{k}:{v}" for k, v in sorted(answers.items()))}


def main() -> None:
    trials = int(os.environ.get("BENCH_TRIALS", 2))
    bench = BenchEnv("recovery")
    business_id, key = bench.make_business()
    same_host = [sigkill_trial(bench, business_id) for _ in range(trials)]
    xhost_requeue, xhost = sigkill_trial(bench, business_id, other_host=True)
    found = redis_restart(bench, key)
    result_line("recovery", requeue_s=",".join(f"{r:.1f}" for r, _ in same_host),
                sigkill_s=",".join(f"{s:.1f}" for _, s in same_host),
                requeue_max_s=round(max(r for r, _ in same_host), 1),
                xhost_requeue_s=round(xhost_requeue, 1), xhost_s=round(xhost, 1),
                **found, goal="requeue<10s,xhost<45s")


if __name__ == "__main__":
    main()
