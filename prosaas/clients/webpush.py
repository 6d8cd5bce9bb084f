"""Web Push (RFC 8291 aes128gcm payloads, VAPID) to one browser subscription, through pywebpush."""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
from typing import Any, Optional

import requests
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from prosaas.errors import PermanentError
from prosaas.settings import get_settings

log = logging.getLogger("prosaas.clients.webpush")

PUSH_TIMEOUT_SECONDS = 10
DEFAULT_TTL_SECONDS = 24 * 3600


class PushSubscriptionGone(PermanentError):
    """The push service answered 404/410: the browser unsubscribed; disable the subscription."""

    reason = "push_subscription_gone"


class PushRejected(PermanentError):
    """Another 4xx (bad VAPID, payload too large ...): sending the same thing again cannot succeed."""

    reason = "push_rejected"


class PushUnavailable(Exception):
    """5xx, 429, timeout or connection failure: worth retrying later."""


@functools.lru_cache(maxsize=4)
def _vapid(private_key: str) -> Vapid:
    if "-----BEGIN" in private_key:
        return Vapid.from_pem(private_key.encode())
    return Vapid.from_string(private_key)


def topic_for(notification_key: str) -> str:
    """RFC 8030 Topic (<= 32 URL-safe base64 chars): a resend of the same notification replaces the first
    at the push service if it was not yet delivered."""
    digest = hashlib.sha256(notification_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def send_push(endpoint: str, p256dh: str, auth: str, payload: dict[str, Any], *,
              topic: Optional[str] = None, ttl: int = DEFAULT_TTL_SECONDS) -> int:
    """Encrypt `payload` (JSON) for the subscription and POST it to its endpoint; returns the HTTP status."""
    settings = get_settings()
    if not settings.vapid_private_key:
        raise PermanentError("VAPID_PRIVATE_KEY is not set: Web Push cannot be signed")
    headers = {"Urgency": "normal"}
    if topic:
        headers["Topic"] = topic
    try:
        response = webpush({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                           data=json.dumps(payload, separators=(",", ":")),
                           vapid_private_key=_vapid(settings.vapid_private_key),
                           vapid_claims={"sub": settings.vapid_subject},  # a fresh dict: pywebpush adds aud/exp
                           ttl=ttl, timeout=PUSH_TIMEOUT_SECONDS, headers=headers)
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (404, 410):
            raise PushSubscriptionGone(f"push service answered {status}") from exc
        if status is not None and 400 <= status < 500 and status != 429:
            raise PushRejected(f"push service answered {status}") from exc
        raise PushUnavailable(f"push service answered {status}") from exc
    except (requests.RequestException, OSError) as exc:
        raise PushUnavailable(f"push service unreachable: {type(exc).__name__}") from exc
    return response.status_code
