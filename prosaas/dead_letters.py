"""The dead-letter queue: list failed messages with their reason, requeue them, purge them.

Dead letters older than DEAD_LETTER_TTL_SECONDS are deleted by the recovery sweep and never listed.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Optional

from dramatiq import Message

from db import job_store
from db.models.core import JobStatus
from prosaas.runtime import get_runtime
from prosaas.settings import ALL_QUEUES

log = logging.getLogger("prosaas.dlq")


def _decode(raw) -> dict[str, Any]:
    return json.loads(raw)


def list_dead_letters(*, queue: Optional[str] = None, business_id: Optional[int] = None,
                      limit: int = 100) -> list[dict[str, Any]]:
    runtime = get_runtime()
    client, keys = runtime.redis, runtime.keys
    reasons = client.hgetall(keys("dead_letter_reasons"))
    entries = []
    expired_before_ms = int(time.time() * 1000) - runtime.settings.dead_letter_ttl_seconds * 1000
    for name in ([queue] if queue else ALL_QUEUES):
        for redis_id, score in client.zrevrangebyscore(keys.dead_letters(name), "+inf", expired_before_ms + 1,
                                                       start=0, num=limit, withscores=True):
            raw = client.hget(keys.dead_letter_messages(name), redis_id)
            if raw is None:
                continue
            data = _decode(raw)
            options = data.get("options", {})
            if business_id is not None and options.get("business_id") != business_id:
                continue
            reason = reasons.get(redis_id)
            entries.append({
                "message_id": data.get("message_id"), "redis_message_id": redis_id.decode(),
                "queue": name, "actor": data.get("actor_name"), "job_id": options.get("job_id"),
                "business_id": options.get("business_id"), "attempts": options.get("retries", 0) + 1,
                "reason": reason.decode() if reason else ("time_limit" if "TimeLimitExceeded" in
                                                          (options.get("traceback") or "") else "retries_exhausted"),
                "error": (options.get("traceback") or "").strip().splitlines()[-1:] or None,
                "failed_at_ms": int(score),
            })
    entries.sort(key=lambda e: e["failed_at_ms"], reverse=True)
    for entry in entries:
        entry["error"] = entry["error"][0] if entry["error"] else None
    return entries[:limit]


def _find(message_id: str) -> Optional[tuple[str, bytes, dict]]:
    runtime = get_runtime()
    client, keys = runtime.redis, runtime.keys
    for name in ALL_QUEUES:
        hash_key = keys.dead_letter_messages(name)
        raw = client.hget(hash_key, message_id)
        if raw is not None:
            return name, message_id.encode(), _decode(raw)
        for redis_id, raw in client.hscan_iter(hash_key, count=500):
            data = _decode(raw)
            if data.get("message_id") == message_id:
                return name, redis_id, data
    return None


def requeue_dead_letter(message_id: str) -> Optional[dict[str, Any]]:
    """Send a dead letter back to its queue with a fresh retry budget; its job row goes back to queued."""
    from prosaas.broker import broker

    runtime = get_runtime()
    found = _find(message_id)
    if found is None:
        return None
    queue, redis_id, data = found
    client, keys = runtime.redis, runtime.keys
    removed = client.zrem(keys.dead_letters(queue), redis_id)
    client.hdel(keys.dead_letter_messages(queue), redis_id)
    client.hdel(keys("dead_letter_reasons"), redis_id)
    client.hdel(keys("redeliveries"), data["message_id"])  # a fresh crash budget too (keyed by message id)
    if not removed:
        return None  # someone else requeued it a moment ago
    options = {k: v for k, v in data.get("options", {}).items()
               if k not in ("retries", "traceback", "redis_message_id", "eta", "requeue_timestamp", "deferrals")}
    message = Message(queue_name=queue, actor_name=data["actor_name"], args=tuple(data.get("args", ())),
                      kwargs=data.get("kwargs", {}), options=options, message_id=data["message_id"],
                      message_timestamp=data.get("message_timestamp", 0))
    job_id = options.get("job_id")
    if job_id:
        with runtime.database.session() as session:
            job = job_store.get_job(session, job_id)
            if job is not None and job.status in (JobStatus.FAILED, JobStatus.RUNNING, JobStatus.QUEUED):
                job.status, job.finished_at, job.message_id = JobStatus.QUEUED, None, message.message_id
    broker.enqueue(message)
    log.info("DLQ_REQUEUED queue=%s message_id=%s job_id=%s", queue, message.message_id, job_id or "-")
    return {"message_id": message.message_id, "queue": queue, "job_id": job_id}


def discard_dead_letter(message_id: str) -> bool:
    """Delete a dead letter without running it (its job was retried another way); False if there is none."""
    found = _find(message_id)
    if found is None:
        return False
    queue, redis_id, data = found
    runtime = get_runtime()
    client, keys = runtime.redis, runtime.keys
    removed = client.zrem(keys.dead_letters(queue), redis_id)
    client.hdel(keys.dead_letter_messages(queue), redis_id)
    client.hdel(keys("dead_letter_reasons"), redis_id)
    client.hdel(keys("redeliveries"), data["message_id"])
    if removed:
        log.info("DLQ_DISCARDED queue=%s message_id=%s job_id=%s reason=job_retried", queue, data["message_id"],
                 data.get("options", {}).get("job_id", "-"))
    return bool(removed)


def purge_dead_letters(queue: Optional[str] = None) -> int:
    runtime = get_runtime()
    client, keys = runtime.redis, runtime.keys
    total = 0
    for name in ([queue] if queue else ALL_QUEUES):
        total += client.zcard(keys.dead_letters(name))
        client.delete(keys.dead_letters(name), keys.dead_letter_messages(name))
    client.delete(keys("dead_letter_reasons"))
    log.info("DLQ_PURGED count=%d queue=%s", total, queue or "all")
    return total
