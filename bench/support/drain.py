"""Start worker processes (ours, raw Dramatiq, RQ), bulk-load messages, and time how fast a queue drains."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from bench.support.env import REPO_ROOT


def start_ours(env: dict, log_dir: Path, *, processes: int = 2, greenlets: int = 50, queues: str = "default"):
    """`prosaas worker` (gevent, our whole middleware stack) with the bench actors loaded."""
    from tests.support.processes import RoleProcess, start_worker

    if env.get("LOG_LEVEL", "INFO") != "INFO":  # no WORKER_STARTED line to wait for: drains are timed anyway
        args = ["worker", "--queues", queues, "--module", "bench.support.actors"]
        return RoleProcess(args, log_dir / f"worker-{time.monotonic_ns()}.log",
                           {**env, "WORKER_PROCESSES": str(processes), "WORKER_GREENLETS": str(greenlets)}).start()
    return start_worker(log_dir, queues=queues, processes=processes, greenlets=greenlets,
                        modules=("bench.support.actors",), env=env)


def start_raw(env: dict, log_dir: Path, *, processes: int = 2, greenlets: int = 50) -> subprocess.Popen:
    """Raw Dramatiq under the same gevent launcher, same processes and greenlets."""
    log = open(log_dir / f"raw-{time.monotonic_ns()}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "prosaas.worker_main", "bench.support.raw_actors",
                             "--processes", str(processes), "--threads", str(greenlets), "--queues", "default"],
                            cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_process(process, timeout: float = 30) -> None:
    """Stop a role (RoleProcess) or a Popen started in its own session, then SIGKILL whatever is left of its
    process group: a leader that exited (or was killed) must never leave its worker processes running."""
    import signal

    popen = getattr(process, "process", process)
    try:
        if hasattr(process, "stop"):
            process.stop(timeout)
        elif popen is not None and popen.poll() is None:
            os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if popen is not None:
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if popen.poll() is None:
                popen.wait(10)


def bulk_load(client, namespace: str, messages, queue: str = "default", batch: int = 1000) -> int:
    """Put Dramatiq messages straight into a Redis queue the way the broker's enqueue does (pipelined)."""
    count = 0
    pipe = client.pipeline(transaction=False)
    for message in messages:
        redis_id = str(uuid.uuid4())
        message = message.copy(options={"redis_message_id": redis_id})
        pipe.hset(f"{namespace}:{queue}.msgs", redis_id, message.encode())
        pipe.rpush(f"{namespace}:{queue}", redis_id)
        count += 1
        if count % batch == 0:
            pipe.execute()
    pipe.execute()
    return count


def time_drain(remaining: Callable[[], int], total: int, *, timeout: float = 600,
               on_poll: Optional[Callable[[int], None]] = None, interval: float = 0.01) -> float:
    """Seconds from the first message done to the last: polls `remaining()` (messages not yet acked)."""
    deadline = time.monotonic() + timeout
    started = None
    while time.monotonic() < deadline:
        left = remaining()
        now = time.monotonic()
        if started is None and left < total:
            started = now
        if on_poll:
            on_poll(left)
        if left == 0:
            return now - (started or now)
        time.sleep(interval)
    raise TimeoutError(f"queue did not drain in {timeout}s ({remaining()} left of {total})")


def dramatiq_remaining(client, namespace: str, queue: str = "default") -> Callable[[], int]:
    """Messages of a Dramatiq queue not yet acked (acked messages leave the .msgs hash)."""
    return lambda: client.hlen(f"{namespace}:{queue}.msgs")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def worker_pids(root_pid: int) -> list[int]:
    """The dramatiq worker processes under a launcher (children of the dramatiq main process)."""
    found = []
    for child in children(root_pid):
        grandchildren = children(child)
        found.extend(grandchildren or [child])
    return found
