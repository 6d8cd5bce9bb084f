"""What the queues hold and who consumes them, read from Redis (workers' own heartbeats, not local env).

Functions that read Redis take the runtime (its client, key names and WORKER_DEAD_AFTER_SECONDS); the
ones that summarise a list of workers take that list.
"""
from __future__ import annotations

import json
import time
from typing import Any

from prosaas.middleware.slots import waiting_counts
from prosaas.redis_protocol import Protocol
from prosaas.settings import ALL_QUEUES


def live_workers(runtime) -> list[dict[str, Any]]:
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


def queue_counts(runtime) -> dict[str, dict[str, int]]:
    depths = Protocol(runtime.redis, runtime.keys).queue_depths(ALL_QUEUES)
    waiting = waiting_counts(runtime.redis, runtime.keys)
    return {queue: {"ready": d["ready"], "delayed": d["delayed"], "running": max(0, d["held"] - d["ready"]),
                    "waiting": waiting.get(queue, 0), "dead_letters": d["dead_letters"]}
            for queue, d in depths.items()}


def consumer_map(workers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Queue -> the live workers consuming it (every known queue present, maybe with none)."""
    consumers: dict[str, list[str]] = {queue: [] for queue in ALL_QUEUES}
    for worker in workers:
        if worker.get("alive"):
            for queue in worker.get("queues", []):
                consumers.setdefault(queue, []).append(worker["worker"])
    return consumers


def queues_without_consumer(runtime) -> list[str]:
    return [queue for queue, names in consumer_map(live_workers(runtime)).items() if not names]


def worker_config(workers: list[dict[str, Any]]) -> dict[str, Any]:
    """What the live workers (`live_workers(runtime)`) really consume, from their own heartbeats (never this
    process's environment)."""
    consumers = consumer_map(workers)
    consumed = {queue for worker in workers if worker.get("alive") for queue in worker.get("queues", [])}
    configured = [queue for queue in ALL_QUEUES if queue in consumed] + sorted(consumed - set(ALL_QUEUES))
    return {
        "queues": list(ALL_QUEUES),
        "configured_queues": configured,
        "listens_to_maintenance": "maintenance" in consumed,
        "workers": [{"worker": w["worker"], "host": w.get("host"), "pid": w.get("pid"),
                     "service_role": w.get("service_role", w.get("role", "worker")),
                     "queues": w.get("queues", []), "listens_to_maintenance": "maintenance" in w.get("queues", []),
                     "alive": w["alive"], "age_s": w["age_s"]} for w in workers],
        "consumers": consumers,
        "queues_without_consumer": [q for q, names in consumers.items() if not names],
    }
