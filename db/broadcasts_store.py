"""Reads and writes of broadcasts and their recipients; each recipient's status moves only forward.

queued -> sending (before the call to the gateway) -> sent | failed; sending -> unknown when the
worker died mid-call (maybe delivered: never resent blindly); queued -> cancelled on cancel.
"""
from __future__ import annotations

from typing import Optional, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models.batch import Broadcast, BroadcastRecipient, RecipientStatus

INSERT_CHUNK = 1000


def create_broadcast(session: Session, business_id: int, message: str, phones: Sequence[str]) -> Broadcast:
    broadcast = Broadcast(business_id=business_id, message=message, total=len(phones))
    session.add(broadcast)
    session.flush()
    now = utcnow()
    for start in range(0, len(phones), INSERT_CHUNK):
        session.execute(BroadcastRecipient.__table__.insert(), [
            {"broadcast_id": broadcast.id, "phone": phone, "status": RecipientStatus.QUEUED, "updated_at": now}
            for phone in phones[start:start + INSERT_CHUNK]])
    return broadcast


def attach_job(session: Session, broadcast_id: int, job_id: str) -> None:
    session.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(job_id=job_id))


def discard_broadcast(session: Session, broadcast_id: int) -> None:
    """Remove a broadcast that never got a job (another one was active)."""
    session.execute(delete(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast_id))
    session.execute(delete(Broadcast).where(Broadcast.id == broadcast_id))


def get_broadcast(session: Session, business_id: int, broadcast_id: int) -> Optional[Broadcast]:
    return session.scalars(select(Broadcast).where(Broadcast.business_id == business_id,
                                                   Broadcast.id == broadcast_id)).first()


def broadcast_for_job(session: Session, business_id: int, job_id: str) -> Optional[Broadcast]:
    return session.scalars(select(Broadcast).where(Broadcast.business_id == business_id,
                                                   Broadcast.job_id == job_id)).first()


def status_counts(session: Session, broadcast_id: int) -> dict[str, int]:
    """How many recipients are in each status (every status present, zero if none)."""
    counts = dict.fromkeys(RecipientStatus.ALL, 0)
    rows = session.execute(select(BroadcastRecipient.status, func.count())
                           .where(BroadcastRecipient.broadcast_id == broadcast_id)
                           .group_by(BroadcastRecipient.status))
    for status, count in rows:
        counts[status] = count
    return counts


def mark_interrupted_unknown(session: Session, broadcast_id: int) -> list[str]:
    """Recipients left `sending` by a dead worker become `unknown`; returns their phones."""
    phones = list(session.scalars(select(BroadcastRecipient.phone).where(
        BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.status == RecipientStatus.SENDING)))
    if phones:
        session.execute(update(BroadcastRecipient).where(
            BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.status == RecipientStatus.SENDING,
        ).values(status=RecipientStatus.UNKNOWN, updated_at=utcnow(),
                 error="the worker stopped during the send; it may or may not have been delivered"))
    return phones


def next_queued(session: Session, broadcast_id: int, limit: int) -> list[tuple[int, str]]:
    rows = session.execute(select(BroadcastRecipient.id, BroadcastRecipient.phone).where(
        BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.status == RecipientStatus.QUEUED,
    ).order_by(BroadcastRecipient.id).limit(limit))
    return [(row.id, row.phone) for row in rows]


def _move(session: Session, recipient_id: int, source: str, target: str, **values) -> bool:
    result = session.execute(update(BroadcastRecipient).where(
        BroadcastRecipient.id == recipient_id, BroadcastRecipient.status == source,
    ).values(status=target, updated_at=utcnow(), **values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def mark_sending(session: Session, recipient_id: int) -> bool:
    """Claim a queued recipient for one send; False if it is no longer queued."""
    return _move(session, recipient_id, RecipientStatus.QUEUED, RecipientStatus.SENDING)


def mark_sent(session: Session, recipient_id: int, provider_id: str) -> bool:
    return _move(session, recipient_id, RecipientStatus.SENDING, RecipientStatus.SENT, provider_id=provider_id,
                 error=None)


def mark_failed(session: Session, recipient_id: int, error: str) -> bool:
    return _move(session, recipient_id, RecipientStatus.SENDING, RecipientStatus.FAILED, error=error[:500])


def mark_unknown(session: Session, recipient_id: int, error: str) -> bool:
    return _move(session, recipient_id, RecipientStatus.SENDING, RecipientStatus.UNKNOWN, error=error[:500])


def return_to_queue(session: Session, recipient_id: int) -> bool:
    """The gateway refused to take the message for now (it surely did not send it): try it again later."""
    return _move(session, recipient_id, RecipientStatus.SENDING, RecipientStatus.QUEUED)


def cancel_queued(session: Session, broadcast_id: int) -> int:
    return session.execute(update(BroadcastRecipient).where(
        BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.status == RecipientStatus.QUEUED,
    ).values(status=RecipientStatus.CANCELLED, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
