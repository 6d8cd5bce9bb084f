"""Broadcasts, the service: start one (at most one active per business) and the view of one with its counts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from db import broadcasts_store, job_store
from prosaas.jobs import enqueue_tracked_or_undo

from actors.broadcasts import send_broadcast


@dataclass(frozen=True)
class BroadcastStarted:
    """The broadcast a request started, or this business's active one (created False)."""

    broadcast_id: int
    job_id: str
    status: str
    recipients: int
    created: bool


def start_broadcast(database, business_id: int, message: str, recipients: list[str]) -> BroadcastStarted:
    """Record the broadcast and enqueue its batch job; asking while one is active returns the active one.

    Raises BrokerUnavailable (the broadcast is discarded).
    """
    with database.session() as session:
        active = job_store.find_active_job(session, business_id, send_broadcast.options["job_type"])
        existing = active and broadcasts_store.broadcast_for_job(session, business_id, active.id)
        if existing:
            return BroadcastStarted(existing.id, active.id, active.status, existing.total, created=False)
        broadcast_id = broadcasts_store.create_broadcast(session, business_id, message, recipients).id

    def discard():
        with database.session() as session:
            broadcasts_store.discard_broadcast(session, broadcast_id)

    enqueued = enqueue_tracked_or_undo(send_broadcast, business_id=business_id,
                                       kwargs={"broadcast_id": broadcast_id}, undo=discard)
    with database.session() as session:
        if enqueued.created:
            broadcasts_store.attach_job(session, broadcast_id, enqueued.job_id)
        else:  # lost a race with a concurrent request: answer with the active one
            broadcasts_store.discard_broadcast(session, broadcast_id)
            broadcast_id = enqueued.job.args.get("broadcast_id")
    return BroadcastStarted(broadcast_id, enqueued.job_id, enqueued.status, len(recipients), enqueued.created)


def broadcast_view(database, business_id: int, broadcast_id: int) -> Optional[dict[str, Any]]:
    """A broadcast with its job's status and how many recipients are in each state; None: no such broadcast."""
    with database.session() as session:
        broadcast = broadcasts_store.get_broadcast(session, business_id, broadcast_id)
        if broadcast is None:
            return None
        job = job_store.get_job(session, broadcast.job_id, business_id) if broadcast.job_id else None
        return {"id": broadcast.id, "job_id": broadcast.job_id, "status": job.status if job else None,
                "message": broadcast.message, "total": broadcast.total,
                "counts": broadcasts_store.status_counts(session, broadcast.id),
                "created_at": broadcast.created_at.isoformat()}
