"""Actors used only by tests, loaded into real workers with `prosaas worker --module tests.support.sample_actors`.

They record what happened in Redis under the run's namespace so the test process can check it.
"""
from __future__ import annotations

import os
import signal
import time

import dramatiq

from prosaas.broker_stack import installed_broker
from prosaas.errors import BadInput
from prosaas.jobs import JobProgress
from prosaas.runtime import get_runtime

installed_broker()  # the real broker and middleware stack, installed by this process's entry point


def _redis():
    return get_runtime().redis


def mark(name: str, *parts) -> str:
    return get_runtime().keys("test", name, *parts)


@dramatiq.actor(queue_name="default", max_retries=0)
def record_run(business_id: int, marker: str) -> None:
    """Appends the marker to a list: how many times did this job run?"""
    _redis().rpush(mark("runs", marker), os.getpid())


@dramatiq.actor(queue_name="default", max_retries=2, min_backoff=100, max_backoff=400)
def poison(business_id: int, marker: str) -> None:
    _redis().rpush(mark("runs", marker), os.getpid())
    raise RuntimeError("poison job always fails")


@dramatiq.actor(queue_name="default", max_retries=3, min_backoff=100)
def bad_input_job(business_id: int, marker: str) -> None:
    _redis().rpush(mark("runs", marker), os.getpid())
    raise BadInput("the payload is not usable")


@dramatiq.actor(queue_name="default", max_retries=1, min_backoff=100, time_limit=1000)
def overrun(business_id: int, marker: str, seconds: float = 30) -> None:
    _redis().rpush(mark("runs", marker), os.getpid())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    _redis().rpush(mark("finished", marker), os.getpid())


@dramatiq.actor(queue_name="recordings", per_business=3, max_retries=0)
def limited(business_id: int, marker: str, ms: int = 300) -> None:
    """Tracks how many of its business's jobs run at once (peak kept in Redis)."""
    client = _redis()
    running_key = mark("running", marker, business_id)
    now_running = client.incr(running_key)
    peak_key = mark("peak", marker, business_id)
    client.eval("if tonumber(redis.call('get', KEYS[1]) or '0') < tonumber(ARGV[1]) then "
                "redis.call('set', KEYS[1], ARGV[1]) end", 1, peak_key, now_running)
    try:
        time.sleep(ms / 1000)
    finally:
        client.decr(running_key)
        client.rpush(mark("done", marker, business_id), time.time())


@dramatiq.actor(queue_name="default", max_retries=3, min_backoff=100)
def slow(business_id: int, marker: str, ms: int = 1000) -> None:
    _redis().rpush(mark("runs", marker), os.getpid())
    time.sleep(ms / 1000)
    _redis().rpush(mark("finished", marker), os.getpid())


@dramatiq.actor(queue_name="default", max_retries=3, min_backoff=100)
def crash_first(business_id: int, marker: str) -> None:
    """Kills its own worker process (SIGKILL) the first time it runs, then succeeds."""
    client = _redis()
    if client.incr(mark("attempts", marker)) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    client.rpush(mark("finished", marker), os.getpid())


@dramatiq.actor(queue_name="default", max_retries=3, min_backoff=100)
def always_crash(business_id: int, marker: str) -> None:
    """Kills its worker on every delivery, like a job that runs out of memory."""
    _redis().incr(mark("attempts", marker))
    os.kill(os.getpid(), signal.SIGKILL)


@dramatiq.actor(queue_name="maintenance", batch=True, job_type="test_batch", max_retries=3, min_backoff=100)
def batch_counter(business_id: int, marker: str, total: int = 20, step_ms: int = 100) -> None:
    """A batch job: honours pause/cancel between steps and resumes from its cursor."""
    progress = JobProgress.current()
    job = progress.load()
    start = (job.cursor or {}).get("next", 0)
    progress.update(total=total)
    for index in range(start, total):
        _redis().rpush(mark("items", marker), index)
        time.sleep(step_ms / 1000)
        action = progress.update(processed=index + 1, succeeded=index + 1, cursor={"next": index + 1})
        if action:
            progress.honour(action)
            return


@dramatiq.actor(queue_name="default", max_retries=0)
def cpu_busy(business_id: int, marker: str, seconds: float = 10) -> None:
    """Spins without ever yielding to gevent: its process is alive but sends no heartbeat meanwhile."""
    _redis().rpush(mark("runs", marker), os.getpid())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    _redis().rpush(mark("finished", marker), os.getpid())
