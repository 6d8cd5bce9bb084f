"""Reads and writes of reminders and of their sends (one row per reminder and offset, insert wins)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.base import new_id, utcnow
from db.models.messaging import Reminder, ReminderSend, ReminderSendStatus, ReminderStatus


def create_reminder(session: Session, *, business_id: int, user_id: str, text: str, due_at: dt.datetime) -> Reminder:
    row = Reminder(id=new_id(), business_id=business_id, user_id=user_id, text=text, due_at=due_at,
                   status=ReminderStatus.PENDING, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def get_reminder(session: Session, business_id: int, reminder_id: str) -> Optional[Reminder]:
    return session.scalars(select(Reminder).where(Reminder.business_id == business_id,
                                                  Reminder.id == reminder_id)).first()


def list_reminders(session: Session, business_id: int, *, user_id: Optional[str] = None,
                   status: Optional[str] = None, limit: int = 100, offset: int = 0) -> list[Reminder]:
    query = select(Reminder).where(Reminder.business_id == business_id)
    if user_id is not None:
        query = query.where(Reminder.user_id == user_id)
    if status is not None:
        query = query.where(Reminder.status == status)
    return list(session.scalars(query.order_by(Reminder.due_at, Reminder.id).limit(limit).offset(offset)))


def delete_reminder(session: Session, business_id: int, reminder_id: str) -> bool:
    row = get_reminder(session, business_id, reminder_id)
    if row is None:
        return False
    session.execute(delete(ReminderSend).where(ReminderSend.reminder_id == row.id))
    session.delete(row)
    return True


def sent_offsets(session: Session, reminder_id: str) -> set[int]:
    return set(session.scalars(select(ReminderSend.offset_minutes).where(ReminderSend.reminder_id == reminder_id)))


def pending_due_within(session: Session, *, now: dt.datetime, horizon: dt.timedelta,
                       limit: int = 1000) -> list[Reminder]:
    """Pending reminders (every business) due before now + horizon: the ones a tick may notify."""
    return list(session.scalars(select(Reminder).where(Reminder.status == ReminderStatus.PENDING,
                                                       Reminder.due_at <= now + horizon)
                                .order_by(Reminder.due_at).limit(limit)))


def claim_offset(session: Session, reminder: Reminder, offset_minutes: int, status: str) -> Optional[ReminderSend]:
    """Insert the (reminder, offset) send row; None if another tick inserted it first."""
    try:
        with session.begin_nested():
            row = ReminderSend(business_id=reminder.business_id, reminder_id=reminder.id,
                               offset_minutes=offset_minutes, status=status, created_at=utcnow())
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        return None


def set_send_job(session: Session, send_id: int, job_id: str, status: str) -> None:
    session.execute(update(ReminderSend).where(ReminderSend.id == send_id).values(job_id=job_id, status=status))


def release_claim(session: Session, send_id: int) -> None:
    """Undo a claim whose push could not be enqueued, so the next tick tries again."""
    session.execute(delete(ReminderSend).where(ReminderSend.id == send_id))


def sends_of(session: Session, business_id: int, reminder_id: str) -> list[ReminderSend]:
    return list(session.scalars(select(ReminderSend).where(ReminderSend.business_id == business_id,
                                                           ReminderSend.reminder_id == reminder_id)
                                .order_by(ReminderSend.offset_minutes.desc())))


def finish_past_due(session: Session, *, due_before: dt.datetime) -> int:
    result = session.execute(update(Reminder).where(Reminder.status == ReminderStatus.PENDING,
                                                    Reminder.due_at < due_before)
                             .values(status=ReminderStatus.DONE, finished_at=utcnow())
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


def delete_finished(session: Session, *, finished_before: dt.datetime, limit: int = 1000) -> int:
    ids = list(session.scalars(select(Reminder.id).where(Reminder.status == ReminderStatus.DONE,
                                                         Reminder.finished_at < finished_before).limit(limit)))
    if not ids:
        return 0
    session.execute(delete(ReminderSend).where(ReminderSend.reminder_id.in_(ids)))
    session.execute(delete(Reminder).where(Reminder.id.in_(ids)))
    return len(ids)


def orphaned_claims(session: Session, *, claimed_before: dt.datetime, limit: int = 100) -> list[ReminderSend]:
    """Claims whose push job was never enqueued (the tick's worker died in between)."""
    return list(session.scalars(select(ReminderSend).where(ReminderSend.job_id.is_(None),
                                                           ReminderSend.status == ReminderSendStatus.CLAIMED,
                                                           ReminderSend.created_at < claimed_before)
                                .limit(limit)))


def take_over_claim(session: Session, send: ReminderSend) -> bool:
    """Re-claim an orphaned claim; only one tick wins (compare-and-set on its claim time)."""
    result = session.execute(update(ReminderSend).where(ReminderSend.id == send.id, ReminderSend.job_id.is_(None),
                                                        ReminderSend.created_at == send.created_at)
                             .values(created_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount == 1
