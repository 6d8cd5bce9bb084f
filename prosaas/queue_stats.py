"""What the queues hold and who consumes them, read from Redis (workers' own heartbeats, not local env)."""
from __future__ import annotations

import json
import time
from typing import Any

from dramatiq.errors import ActorNotFound

from prosaas.middleware.slots import waiting_counts
from prosaas.redis_protocol import Protocol
from prosaas.runtime import get_runtime
from prosaas.settings import ALL_QUEUES


def live_workers() -> list[dict[str, Any]]:
    runtime = get_runtime()
    dead_after = runtime.settings.worker_dead_after_seconds
    now = time.time()
    workers = []
    for raw in runtime.redis.hgetall(runtime.keys("workers")).values():
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        info["age_s"] = round(now - info.get("last_heartbeat", 0), 1)
        info["alive"] = info["age_s"] < dead_after
        workers.append(info)
    return sorted(workers, key=lambda w: (w.get("host", ""), w.get("pid", 0)))


def _queue_of_actor(actor_name: str) -> str:
    import actors  # noqa: F401  (declares every actor, so its queue is known here)
    from prosaas.broker import broker

    try:
        return broker.get_actor(actor_name).queue_name
    except ActorNotFound:  # e.g. an actor only a test or benchmark declares
        return "other"


def queue_counts() -> dict[str, dict[str, int]]:
    runtime = get_runtime()
    depths = Protocol(runtime.redis, runtime.keys).queue_depths(ALL_QUEUES)
    waiting = waiting_counts(runtime.redis, runtime.keys, queue_of=_queue_of_actor)
    return {queue: {"ready": d["ready"], "delayed": d["delayed"], "running": max(0, d["held"] - d["ready"]),
                    "waiting": waiting.get(queue, 0), "dead_letters": d["dead_letters"]}
            for queue, d in depths.items()}


def consumer_map(workers: list[dict[str, Any]] | None = None) -> dict[str, list[str]]:
    workers = live_workers() if workers is None else workers
    consumers: dict[str, list[str]] = {queue: [] for queue in ALL_QUEUES}
    for worker in workers:
        if worker.get("alive"):
            for queue in worker.get("queues", []):
                consumers.setdefault(queue, []).append(worker["worker"])
    return consumers


def queues_without_consumer(workers=None) -> list[str]:
    return [queue for queue, names in consumer_map(workers).items() if not names]
