"""The Procrastinate peer's jobs (PostgreSQL only): the same no-op and start stamp as the others.

`procrastinate --app=bench.support.procrastinate_jobs.app worker`; reads BENCH_PROCRASTINATE_DSN,
BENCH_STAMPS_REDIS_URL and BENCH_STAMPS_KEY.
"""
from __future__ import annotations

import os
import time

import procrastinate
import redis

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ["BENCH_PROCRASTINATE_DSN"]))
_stamps = None


@app.task(name="bench.noop")
async def noop(n: int = 0) -> None:
    return None


@app.task(name="bench.stamp")
async def stamp(sent: float = 0.0) -> None:
    global _stamps
    if _stamps is None:
        _stamps = redis.Redis.from_url(os.environ["BENCH_STAMPS_REDIS_URL"])
    _stamps.rpush(os.environ["BENCH_STAMPS_KEY"], f"{sent}:{time.time()}")
