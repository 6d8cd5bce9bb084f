"""Per-tenant load: what each business has queued, running, waiting for a slot, finished and failed, and its slots.

Job counts come from background_jobs; slots and waiting lists from the per-business keys in Redis
(prosaas/middleware/slots.py), so untracked slot-limited messages count too. Slot limits are those of the
actors declared on the broker the caller hands in (`slot_limits(broker)`).
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Optional

from db.base import utcnow
from db.job_search import JobFilter, search_jobs, tenant_loads
from db.models.core import JobStatus
from prosaas.jobs import job_view
from prosaas.middleware.slots import BusinessSlots


def slot_limits(broker) -> dict[str, int]:
    """Every actor declared on `broker` with a per-business limit, and that limit (the caller declares them)."""
    limits = {}
    for name in broker.get_declared_actors():
        limit = BusinessSlots.limit_for(broker, name)
        if limit:
            limits[name] = limit
    return limits


def _key_parts(key) -> tuple[str, str]:
    """(actor, business id) of a `…:slots|waiting:<actor>:<business>` key."""
    name = key.decode() if isinstance(key, bytes) else key
    actor, business = name.split(":")[-2:]
    return actor, business


def slot_usage(client, keys, business_id: Optional[int] = None) -> tuple[dict, dict]:
    """({business: {actor: slots in use}}, {business: {actor: messages waiting}}) across every worker."""
    who = "*" if business_id is None else str(business_id)
    slot_keys = list(client.scan_iter(match=keys("slots", "*", who), count=1000))
    waiting_keys = [key for key in client.scan_iter(match=keys("waiting", "*", who), count=1000)
                    if not (key.decode() if isinstance(key, bytes) else key).endswith(":msgs")]
    now = int(time.time() * 1000)
    pipe = client.pipeline(transaction=False)
    for key in slot_keys:
        pipe.zcount(key, now, "+inf")
    for key in waiting_keys:
        pipe.llen(key)
    values = pipe.execute()
    return (_by_business(slot_keys, values[:len(slot_keys)]),
            _by_business(waiting_keys, values[len(slot_keys):]))


def _by_business(found_keys: list, counts: list[int]) -> dict[str, dict[str, int]]:
    grouped: dict[str, dict[str, int]] = {}
    for key, count in zip(found_keys, counts):
        if count:
            actor, business = _key_parts(key)
            grouped.setdefault(business, {})[actor] = count
    return grouped


def tenants(runtime, limits: dict[str, int], business_id: Optional[int] = None, *,
            limit: int = 1000) -> list[dict[str, Any]]:
    """`GET /api/admin/tenants`: every business's load, busiest first; `limits`: slot_limits(broker)."""
    with runtime.database.session() as session:
        loads = tenant_loads(session, now=utcnow(), business_id=business_id)
    in_use, waiting = slot_usage(runtime.redis, runtime.keys, business_id)
    limits: dict[str, int | None] = dict(limits)
    for seen in (*in_use.values(), *waiting.values()):  # actors this process does not declare (limit unknown)
        limits.update({actor: None for actor in seen if actor not in limits})
    rows = []
    for load in loads:
        business = str(load.business_id)
        rows.append({**asdict(load),
                     "waiting_for_slot": sum(waiting.get(business, {}).values()),
                     "waiting_by_actor": waiting.get(business, {}),
                     "slots": {actor: {"in_use": in_use.get(business, {}).get(actor, 0), "limit": limit_}
                               for actor, limit_ in sorted(limits.items())}})
    rows.sort(key=lambda row: (-(row["running"] + row["queued"] + row["waiting_for_slot"]),
                               -row["processed_24h"], row["business_id"]))
    return rows[:limit]


def tenant_picture(runtime, limits: dict[str, int], business_id: int) -> Optional[dict[str, Any]]:
    """One business's page: its load and slots, running and queued jobs with progress, latest failures."""
    found = tenants(runtime, limits, business_id)
    if not found:
        return None
    with runtime.database.session() as session:
        def jobs(status, limit):
            return [job_view(job) for job in search_jobs(session, JobFilter(status=status, business_id=business_id),
                                                         limit=limit)]
        return {"tenant": found[0], "running": jobs(JobStatus.RUNNING, 50), "queued": jobs(JobStatus.QUEUED, 20),
                "failed": jobs(JobStatus.FAILED, 20)}
