"""Deliver one notification to every active subscription of a user, each at most once.

A send row per (notification, subscription) remembers what was delivered, so a retry after a
partial success only sends to the subscriptions still owed; 404/410 disables the subscription.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from db import push_store
from db.models.messaging import SendStatus
from prosaas.clients.webpush import (PushRejected, PushSubscriptionGone, PushUnavailable, send_push,
                                     topic_for)
from prosaas.runtime import get_runtime

log = logging.getLogger("prosaas.push")
DONE_STATUSES = (SendStatus.SENT, SendStatus.GONE, SendStatus.FAILED)


def notification_payload(title: str, body: str, url: Optional[str] = None,
                         data: Optional[dict] = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": title, "body": body}
    if url:
        payload["url"] = url
    if data:
        payload["data"] = data
    return payload


def deliver_notification(*, business_id: int, user_id: str, payload: dict[str, Any],
                         notification_key: str) -> dict[str, int]:
    """Send `payload` to each active subscription of the user not yet served for this notification.

    Raises PushUnavailable (retryable) if some subscription could not be reached this time.
    """
    database = get_runtime().database
    with database.session() as session:
        subscriptions = [(s.id, s.endpoint, s.p256dh, s.auth)
                         for s in push_store.active_subscriptions(session, business_id, user_id)]
    counts = {"subscriptions": len(subscriptions), "sent": 0, "gone": 0, "failed": 0, "already": 0,
              "unavailable": 0}
    topic = topic_for(notification_key)
    for subscription_id, endpoint, p256dh, auth in subscriptions:
        with database.session() as session:
            row = push_store.claim_send(session, business_id=business_id, notification_key=notification_key,
                                        subscription_id=subscription_id)
            send_id, status = row.id, row.status
        if status in DONE_STATUSES:
            counts["already"] += 1
            continue
        outcome, error = SendStatus.SENT, None
        try:
            send_push(endpoint, p256dh, auth, payload, topic=topic)
        except PushSubscriptionGone as exc:
            outcome, error = SendStatus.GONE, str(exc)
        except PushRejected as exc:
            outcome, error = SendStatus.FAILED, str(exc)
        except PushUnavailable as exc:
            outcome, error = SendStatus.SENDING, str(exc)
        with database.session() as session:
            push_store.record_attempt(session, send_id, outcome, error)
            if outcome == SendStatus.GONE:
                push_store.disable_subscription(session, business_id, subscription_id, reason=error)
        key = {SendStatus.SENT: "sent", SendStatus.GONE: "gone", SendStatus.FAILED: "failed",
               SendStatus.SENDING: "unavailable"}[outcome]
        counts[key] += 1
        log.info("PUSH_%s business_id=%s subscription_id=%s notification=%s%s", key.upper(), business_id,
                 subscription_id, notification_key, f" error={error!r}" if error else "")
    if counts["unavailable"]:
        raise PushUnavailable(f"{counts['unavailable']} of {len(subscriptions)} subscription(s) not reached; "
                              "retrying those only")
    return counts
