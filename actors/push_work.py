"""Deliver one notification to every active subscription of a user, each at most once.

A send row per (notification, subscription) remembers what was delivered, so a retry after a
partial success only sends to the subscriptions still owed; 404/410 disables the subscription.
What a tenant sees of a failure is a reason code per subscription (`gone`, `rejected`, `unreachable`).
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from db import push_store
from db.models.messaging import SendStatus
from prosaas.clients.webpush import (PushRefused, PushRejected, PushSender, PushSubscriptionGone, PushUnavailable,
                                     topic_for)

log = logging.getLogger("prosaas.push")
DONE_STATUSES = (SendStatus.SENT, SendStatus.GONE, SendStatus.FAILED)
REASON_CODES = ("gone", "rejected", "unreachable")


def notification_payload(title: str, body: str, url: Optional[str] = None,
                         data: Optional[dict] = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": title, "body": body}
    if url:
        payload["url"] = url
    if data:
        payload["data"] = data
    return payload


def deliver_notification(database, sender: PushSender, *, business_id: int, user_id: str,
                         payload: dict[str, Any], notification_key: str) -> dict[str, Any]:
    """Send `payload` to each active subscription of the user not yet served for this notification.

    Raises PushUnavailable (retryable) if some subscription could not be reached this time.
    """
    with database.session() as session:
        subscriptions = [(s.id, s.endpoint, s.p256dh, s.auth)
                         for s in push_store.active_subscriptions(session, business_id, user_id)]
    counts: dict[str, Any] = {"subscriptions": len(subscriptions), "sent": 0, "gone": 0, "failed": 0,
                              "already": 0, "unavailable": 0}
    reasons: dict[str, str] = {}   # subscription id -> the code a tenant sees
    retrying: list[str] = []
    topic = topic_for(notification_key)
    for subscription_id, endpoint, p256dh, auth in subscriptions:
        with database.session() as session:
            row = push_store.claim_send(session, business_id=business_id, notification_key=notification_key,
                                        subscription_id=subscription_id)
            send_id, status, last_error = row.id, row.status, row.last_error
        if status in DONE_STATUSES:
            counts["already"] += 1
            if status != SendStatus.SENT:
                reasons[subscription_id] = last_error if last_error in REASON_CODES else "rejected"
            continue
        outcome, error = SendStatus.SENT, None
        try:
            sender.send(endpoint, p256dh, auth, payload, topic=topic)
        except PushSubscriptionGone as exc:
            outcome, error = SendStatus.GONE, exc.code
        except (PushRejected, PushRefused) as exc:
            outcome, error = SendStatus.FAILED, exc.code
        except PushUnavailable as exc:
            outcome, error = SendStatus.SENDING, exc.code
        if error:
            reasons[subscription_id] = error
        if outcome == SendStatus.SENDING:
            retrying.append(subscription_id)
        with database.session() as session:
            push_store.record_attempt(session, send_id, outcome, error)
            if outcome == SendStatus.GONE:
                push_store.disable_subscription(session, business_id, subscription_id, reason=error)
        key = {SendStatus.SENT: "sent", SendStatus.GONE: "gone", SendStatus.FAILED: "failed",
               SendStatus.SENDING: "unavailable"}[outcome]
        counts[key] += 1
        log.info("PUSH_%s business_id=%s subscription_id=%s notification=%s%s", key.upper(), business_id,
                 subscription_id, notification_key, f" reason={error}" if error else "")
    if counts["unavailable"]:
        raise PushUnavailable(f"{counts['unavailable']} of {len(subscriptions)} subscription(s) unreachable "
                              f"({', '.join(retrying)}); retrying those only")
    if reasons:
        counts["reasons"] = reasons
    return counts
