"""The operational picture: broker and database reachability, queues, workers, scheduler, stale jobs.

Each function is handed what it reads (the runtime, or just its database, Redis client or settings).
"""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Optional

from db import job_store
from db.base import utcnow
from prosaas.queue_pause import paused_queues
from prosaas.queue_stats import consumer_map, live_workers, queue_counts
from prosaas.reconciler import reconciler_status
from prosaas.redis_client import sentinel_view


def check_database(database) -> tuple[bool, str]:
    try:
        database.ping()
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def check_broker(client) -> tuple[bool, str]:
    try:
        client.ping()
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {str(exc)[:200]}"


def sentinel_status(settings) -> Optional[dict[str, Any]]:
    """With REDIS_SENTINELS: the master this process uses and how many sentinels name it; else None."""
    if not settings.redis_sentinels:
        return None
    view = sentinel_view(settings.sentinel_addresses, settings.redis_sentinel_master,
                         settings.redis_sentinel_password)
    return {"name": settings.redis_sentinel_master, **view}


def describe_sentinel(status: dict[str, Any]) -> str:
    return (f"master '{status['name']}' at {status['master'] or 'unknown'}, seen by {status['agreeing']} of "
            f"{status['sentinels']} sentinel(s)")


def periodiq_senders(client, keys, now: float) -> list[dict[str, Any]]:
    """Processes that enqueue periodic ticks without a heartbeat of their own (`periodiq prosaas.broker actors`),
    from prosaas.periodic_dedup's record: alive while they sent a tick in the last 90 s (one fires every minute)."""
    senders = []
    for name, raw in client.hgetall(keys("scheduler", "senders")).items():
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        age = round(now - info.get("last_sent", 0), 1)
        if info.get("kind") != "periodiq":
            continue
        if age > 86400:  # long gone: forget it
            client.hdel(keys("scheduler", "senders"), name)
            continue
        senders.append({"id": f"periodiq:{name.decode()}", "kind": "periodiq", "host": info.get("host"),
                        "pid": info.get("pid"), "last_seen": info.get("last_sent"), "fired": "?", "age_s": age,
                        "alive": age < 90})
    return senders


def scheduler_status(client, keys) -> dict[str, Any]:
    """What the scheduler(s) last wrote to Redis: instances, and each periodic actor's last/next tick."""
    now = time.time()
    instances = []
    for raw in client.hgetall(keys("schedulers")).values():
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        info["age_s"] = round(now - info.get("last_seen", 0), 1)
        info["alive"] = info["age_s"] < 90
        instances.append(info)
    ticks = {}
    for actor, raw in client.hgetall(keys("scheduler", "ticks")).items():
        try:
            ticks[actor.decode()] = json.loads(raw)
        except ValueError:
            continue
    missed = int(client.get(keys("scheduler", "missed_ticks")) or 0)
    instances += periodiq_senders(client, keys, now)
    return {"instances": sorted(instances, key=lambda i: i.get("id", "")), "ticks": ticks, "missed_ticks": missed,
            "alive": any(i["alive"] for i in instances)}


def health_report(runtime) -> dict[str, Any]:
    db_ok, db_detail = check_database(runtime.database)
    broker_ok, broker_detail = check_broker(runtime.redis)
    report: dict[str, Any] = {
        "status": "ok" if db_ok and broker_ok else "degraded",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    sentinel = sentinel_status(runtime.settings)
    if sentinel:
        report["broker"]["sentinel"] = sentinel
    if broker_ok:
        client, keys = runtime.redis, runtime.keys
        workers = live_workers(runtime)
        consumers = consumer_map(workers)
        queues = queue_counts(runtime)
        paused = paused_queues(client, keys)
        for name, counts in queues.items():
            counts["consumers"] = len(consumers.get(name, []))
            counts["paused"] = name in paused
        report.update(queues=queues, workers=workers, scheduler=scheduler_status(client, keys),
                      reconciler=reconciler_status(client, keys),
                      queues_without_consumer=[q for q, c in consumers.items() if not c],
                      paused_queues=sorted(paused))
        report["stuck_queues"] = [q for q in report["queues_without_consumer"]
                                  if queues[q]["ready"] or queues[q]["delayed"] or queues[q]["waiting"]]
        if report["stuck_queues"]:
            report["status"] = "degraded"
    if db_ok:
        try:
            report.update(_job_health(runtime.database, runtime.settings.job_stale_after_seconds))
        except Exception as exc:  # reachable but unusable, e.g. migrations never applied
            report["database"] = {"ok": False, "detail": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
            report["status"] = "degraded"
    return report


def _job_health(database, stale_after_seconds: int) -> dict[str, Any]:
    stale_cut = utcnow() - dt.timedelta(seconds=stale_after_seconds)
    with database.session() as session:
        stale = job_store.stale_jobs(session, queued_before=stale_cut, heartbeat_before=stale_cut, limit=20)
        return {"jobs": job_store.count_by_status(session),
                "stale_jobs": [{"id": j.id, "type": j.type, "status": j.status, "queue": j.queue,
                                "business_id": j.business_id,
                                "since": (j.heartbeat_at if j.status == "running" else j.updated_at).isoformat(),
                                "why": "no heartbeat from its worker" if j.status == "running"
                                else "not picked up by any worker"} for j in stale]}
