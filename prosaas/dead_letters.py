"""The dead-letter queue: list failed messages with their reason, requeue them, purge them.

Dead letters older than DEAD_LETTER_TTL_SECONDS are deleted by the recovery sweep and never listed.
Each function takes the runtime whose Redis holds the dead letters; requeueing takes the broker that sends
the message again (and whose runtime it is).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Optional

from dramatiq import Message

from db import job_store
from db.models.core import JobStatus
from prosaas.redis_protocol import Protocol, now_ms, without_broker_options
from prosaas.settings import ALL_QUEUES

log = logging.getLogger("prosaas.dlq")


def _decode(raw) -> dict[str, Any]:
    return json.loads(raw)


def _protocol(runtime) -> Protocol:
    return Protocol(runtime.redis, runtime.keys)


def list_dead_letters(runtime, *, queue: Optional[str] = None, business_id: Optional[int] = None,
                      limit: int = 100) -> list[dict[str, Any]]:
    protocol = _protocol(runtime)
    reasons = protocol.dead_letter_reasons()
    entries = []
    expired_before_ms = now_ms() - runtime.settings.dead_letter_ttl_seconds * 1000
    for name in ([queue] if queue else ALL_QUEUES):
        for redis_id, score, raw in protocol.newest_dead_letters(name, limit, after_ms=expired_before_ms):
            data = _decode(raw)
            options = data.get("options", {})
            if business_id is not None and options.get("business_id") != business_id:
                continue
            # "reason" (recovery's) or "reason\nerror" (a permanent failure's, see middleware/retries.py)
            reason, _, recorded_error = (reasons.get(redis_id) or b"").decode().partition("\n")
            entries.append({
                "message_id": data.get("message_id"), "redis_message_id": redis_id.decode(),
                "queue": name, "actor": data.get("actor_name"), "job_id": options.get("job_id"),
                "business_id": options.get("business_id"), "attempts": options.get("retries", 0) + 1,
                "reason": reason or ("time_limit" if "TimeLimitExceeded" in (options.get("traceback") or "")
                                     else "retries_exhausted"),
                "error": [recorded_error] if recorded_error else
                (options.get("traceback") or "").strip().splitlines()[-1:] or None,
                "failed_at_ms": int(score),
            })
    entries.sort(key=lambda e: e["failed_at_ms"], reverse=True)
    for entry in entries:
        entry["error"] = entry["error"][0] if entry["error"] else None
    return entries[:limit]


def _find(protocol: Protocol, message_id: str) -> Optional[tuple[str, bytes, dict]]:
    for name in ALL_QUEUES:
        raw = protocol.dead_letter(name, message_id)
        if raw is not None:
            return name, message_id.encode(), _decode(raw)
        for redis_id, raw in protocol.scan_dead_letters(name):
            data = _decode(raw)
            if data.get("message_id") == message_id:
                return name, redis_id, data
    return None


def requeue_dead_letter(broker, message_id: str) -> Optional[dict[str, Any]]:
    """Send a dead letter back to its queue on `broker` with a fresh retry budget; its job row goes back to
    queued."""
    runtime = broker.runtime
    protocol = _protocol(runtime)
    found = _find(protocol, message_id)
    if found is None:
        return None
    queue, redis_id, data = found
    if not protocol.remove_dead_letter(queue, redis_id, data["message_id"]):  # a fresh crash budget too
        return None  # someone else requeued it a moment ago
    options = without_broker_options(data.get("options", {}), "retries", "traceback", "requeue_timestamp",
                                     "deferrals")
    message = Message(queue_name=queue, actor_name=data["actor_name"], args=tuple(data.get("args", ())),
                      kwargs=data.get("kwargs", {}), options=options, message_id=data["message_id"],
                      message_timestamp=data.get("message_timestamp", 0))
    job_id = options.get("job_id")
    if job_id:
        with runtime.database.session() as session:
            job_store.requeue_for_message(session, job_id, message_id=message.message_id,
                                          allowed=(JobStatus.FAILED, JobStatus.RUNNING, JobStatus.QUEUED))
    broker.enqueue(message)
    log.info("DLQ_REQUEUED queue=%s message_id=%s job_id=%s", queue, message.message_id, job_id or "-")
    return {"message_id": message.message_id, "queue": queue, "job_id": job_id}


def discard_dead_letter(runtime, message_id: str) -> bool:
    """Delete a dead letter without running it (its job was retried another way); False if there is none."""
    protocol = _protocol(runtime)
    found = _find(protocol, message_id)
    if found is None:
        return False
    queue, redis_id, data = found
    removed = protocol.remove_dead_letter(queue, redis_id, data["message_id"])
    if removed:
        log.info("DLQ_DISCARDED queue=%s message_id=%s job_id=%s reason=job_retried", queue, data["message_id"],
                 data.get("options", {}).get("job_id", "-"))
    return bool(removed)


def purge_dead_letters(runtime, queue: Optional[str] = None) -> int:
    total = _protocol(runtime).purge_dead_letters([queue] if queue else ALL_QUEUES)
    log.info("DLQ_PURGED count=%d queue=%s", total, queue or "all")
    return total
