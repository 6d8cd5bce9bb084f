"""Benchmark actors on OUR broker (the whole middleware stack): a no-op and a slot-limited job."""
from __future__ import annotations

import time

import dramatiq

import prosaas.broker  # noqa: F401  (a bench process installs the real broker here; in a worker it already has)
from prosaas.runtime import get_runtime


@dramatiq.actor(queue_name="default", max_retries=3)
def noop(business_id: int = 0, n: int = 0) -> None:
    """Does nothing: what is left is the cost of the job machinery."""


@dramatiq.actor(queue_name="default", max_retries=3)
def stamp(business_id: int = 0, n: int = 0, sent: float = 0.0) -> None:
    """Records when it started (to measure enqueue -> start latency of untracked messages)."""
    get_runtime().redis.rpush(get_runtime().keys("bench", "stamps"), f"{sent}:{time.time()}")


@dramatiq.actor(queue_name="recordings", per_business=3, max_retries=3)
def limited_job(business_id: int, tag: str = "", ms: int = 20) -> None:
    """A per-business-limited job that records its start time per business (fairness benchmark)."""
    get_runtime().redis.rpush(get_runtime().keys("bench", "started", tag, business_id), time.time())
    time.sleep(ms / 1000)


@dramatiq.actor(queue_name="default", max_retries=3, min_backoff=500)
def sleeper(business_id: int = 0, seconds: float = 1.0) -> None:
    """Runs for a while, so a worker can be killed in the middle of it."""
    time.sleep(seconds)
