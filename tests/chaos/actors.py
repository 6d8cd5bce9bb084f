"""Actors for the chaos suite, loaded into real workers with `--module tests.chaos.actors`.

`chaos_job` makes duplicate runs visible: it appends its worker's pid to a per-job list when it starts
and again when its body has finished, in the Redis of the worker's environment.
"""
from __future__ import annotations

import os
import time

import dramatiq

from prosaas.broker_stack import installed_broker
from prosaas.runtime import get_runtime

installed_broker()  # the real broker and middleware stack, installed by this process's entry point


def mark(name: str, *parts) -> str:
    return get_runtime().keys("chaos", name, *parts)


@dramatiq.actor(queue_name="default", max_retries=10, min_backoff=300, max_backoff=3000)
def chaos_job(business_id: int, marker: str, ms: int = 150) -> None:
    client = get_runtime().redis
    client.rpush(mark("runs", marker), os.getpid())
    time.sleep(ms / 1000)
    client.rpush(mark("finished", marker), os.getpid())
