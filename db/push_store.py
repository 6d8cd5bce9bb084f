"""Reads and writes of push subscriptions and of each notification's send to each subscription."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.base import new_id, utcnow
from db.models.messaging import NotificationSend, PushSubscription, SendStatus


def save_subscription(session: Session, *, business_id: int, user_id: str, endpoint: str, p256dh: str,
                      auth: str) -> tuple[PushSubscription, bool]:
    """Create the subscription, or refresh (and re-activate) the one with the same endpoint; (row, created)."""
    query = select(PushSubscription).where(PushSubscription.business_id == business_id,
                                           PushSubscription.endpoint == endpoint)
    existing = session.scalars(query).first()
    if existing is None:
        try:
            with session.begin_nested():
                row = PushSubscription(id=new_id(), business_id=business_id, user_id=user_id, endpoint=endpoint,
                                       p256dh=p256dh, auth=auth, active=True, created_at=utcnow())
                session.add(row)
                session.flush()
            return row, True
        except IntegrityError:
            existing = session.scalars(query).one()
    existing.user_id, existing.p256dh, existing.auth = user_id, p256dh, auth
    existing.active, existing.disabled_reason, existing.disabled_at = True, None, None
    session.flush()
    return existing, False


def get_subscription(session: Session, business_id: int, subscription_id: str) -> Optional[PushSubscription]:
    return session.scalars(select(PushSubscription).where(PushSubscription.business_id == business_id,
                                                          PushSubscription.id == subscription_id)).first()


def delete_subscription(session: Session, business_id: int, subscription_id: str) -> bool:
    row = get_subscription(session, business_id, subscription_id)
    if row is None:
        return False
    session.execute(delete(NotificationSend).where(NotificationSend.subscription_id == row.id))
    session.delete(row)
    return True


def active_subscriptions(session: Session, business_id: int, user_id: str) -> list[PushSubscription]:
    return list(session.scalars(select(PushSubscription).where(
        PushSubscription.business_id == business_id, PushSubscription.user_id == user_id,
        PushSubscription.active.is_(True)).order_by(PushSubscription.created_at)))


def disable_subscription(session: Session, business_id: int, subscription_id: str, reason: str) -> None:
    session.execute(update(PushSubscription).where(PushSubscription.business_id == business_id,
                                                   PushSubscription.id == subscription_id)
                    .values(active=False, disabled_reason=reason[:200], disabled_at=utcnow()))


def claim_send(session: Session, *, business_id: int, notification_key: str,
               subscription_id: str) -> NotificationSend:
    """The send row of this notification to this subscription, created on first use."""
    query = select(NotificationSend).where(NotificationSend.notification_key == notification_key,
                                           NotificationSend.subscription_id == subscription_id)
    row = session.scalars(query).first()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = NotificationSend(business_id=business_id, notification_key=notification_key,
                                   subscription_id=subscription_id, status=SendStatus.SENDING, attempts=0,
                                   created_at=utcnow(), updated_at=utcnow())
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        return session.scalars(query).one()


def record_attempt(session: Session, send_id: int, status: str, error: Optional[str] = None) -> None:
    row = session.get(NotificationSend, send_id)
    if row is None:  # the subscription was deleted meanwhile
        return
    row.status = status
    row.attempts = (row.attempts or 0) + 1
    row.last_error = error[:1000] if error else None
    row.updated_at = utcnow()

