"""The baseline: raw Dramatiq (its default middleware only) on the same Redis, in its own namespace."""
from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=os.environ["BENCH_RAW_REDIS_URL"], namespace=os.environ["BENCH_RAW_NAMESPACE"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="default", max_retries=3)
def noop(business_id: int = 0, n: int = 0) -> None:
    """Does nothing."""


@dramatiq.actor(queue_name="default", max_retries=3)
def stamp(sent: float = 0.0) -> None:
    """Records when it started, next to when it was sent (enqueue -> start latency)."""
    import time

    broker.client.rpush(os.environ["BENCH_STAMPS_KEY"], f"{sent}:{time.time()}")
