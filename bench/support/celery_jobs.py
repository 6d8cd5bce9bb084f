"""The Celery 5 peer's jobs: the same no-op and start stamp as the others, Redis broker, no result backend.

`celery -A bench.support.celery_jobs worker -P prefork|gevent`; reads BENCH_CELERY_BROKER, BENCH_CELERY_QUEUE,
BENCH_STAMPS_REDIS_URL and BENCH_STAMPS_KEY.
"""
from __future__ import annotations

import os
import time

import redis
from celery import Celery

app = Celery("bench", broker=os.environ["BENCH_CELERY_BROKER"])
# Acknowledged after the job ran, like Dramatiq's; no results kept, like the other no-op peers.
app.conf.update(task_acks_late=True, task_ignore_result=True, task_default_queue=os.environ["BENCH_CELERY_QUEUE"],
                worker_hijack_root_logger=False, broker_connection_retry_on_startup=True,
                worker_send_task_events=False, task_send_sent_event=False)
_stamps = None


@app.task(name="bench.noop")
def noop(n: int = 0) -> None:
    return None


@app.task(name="bench.stamp")
def stamp(sent: float = 0.0) -> None:
    global _stamps
    if _stamps is None:
        _stamps = redis.Redis.from_url(os.environ["BENCH_STAMPS_REDIS_URL"])
    _stamps.rpush(os.environ["BENCH_STAMPS_KEY"], f"{sent}:{time.time()}")
