"""Web Push, the service: save and forget a browser's subscription, start a notification to a user."""
from __future__ import annotations

from typing import Any

from db import push_store
from prosaas.jobs import Enqueued, enqueue_tracked

from actors.push import push_send


def subscription_view(row) -> dict[str, Any]:
    return {"id": row.id, "user_id": row.user_id, "endpoint": row.endpoint, "active": row.active,
            "created_at": row.created_at.isoformat()}


def save_subscription(database, business_id: int, *, user_id: str, endpoint: str, p256dh: str,
                      auth: str) -> dict[str, Any]:
    """Save (or refresh: same endpoint) a browser's push subscription; returns its view."""
    with database.session() as session:
        row, _created = push_store.save_subscription(session, business_id=business_id, user_id=user_id,
                                                     endpoint=endpoint, p256dh=p256dh, auth=auth)
        return subscription_view(row)


def forget_subscription(database, business_id: int, subscription_id: str) -> bool:
    """False: no such subscription of this business."""
    with database.session() as session:
        return push_store.delete_subscription(session, business_id, subscription_id)


def start_notification(business_id: int, notification: dict[str, Any]) -> Enqueued:
    """A tracked job sending `notification` (push_send's arguments) to each active subscription of its user."""
    return enqueue_tracked(push_send, business_id=business_id, kwargs=notification)
