"""Web Push (RFC 8291 aes128gcm payloads, VAPID) to one browser subscription, through pywebpush.

pywebpush encrypts and signs; the POST goes through the guarded client, only to the hosts of its allow
list (PUSH_ENDPOINT_HOSTS), never following a redirect, reading at most a few KiB of the answer. Each
failure carries the reason code a tenant may see (`gone`, `rejected`, `unreachable`), never network error text.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
from typing import Any, Optional

from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from prosaas.clients import guarded_http
from prosaas.errors import PermanentError

log = logging.getLogger("prosaas.clients.webpush")

PUSH_TIMEOUTS = guarded_http.Timeouts(connect=5, read=10, total=15)
MAX_ANSWER_BYTES = 16 * 1024  # push services answer with an empty body or a short JSON error
DEFAULT_TTL_SECONDS = 24 * 3600


class PushSubscriptionGone(PermanentError):
    """The push service answered 404/410: the browser unsubscribed; disable the subscription."""

    reason = "push_subscription_gone"
    code = "gone"


class PushRejected(PermanentError):
    """Another 4xx or a redirect (bad VAPID, payload too large ...): sending again cannot succeed."""

    reason = "push_rejected"
    code = "rejected"


class PushRefused(PermanentError):
    """The endpoint is not allowed (PUSH_ENDPOINT_HOSTS, or it resolves to a non-public address)."""

    reason = "push_refused"
    code = "unreachable"


class PushUnavailable(Exception):
    """5xx, 429, timeout or connection failure: worth retrying later."""

    code = "unreachable"


class PushAnswer:
    """The part of a requests.Response that pywebpush reads."""

    def __init__(self, status_code: int, reason: str, headers, content: bytes):
        self.status_code, self.reason, self.headers, self.content = status_code, reason, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class GuardedPushSession:
    """What pywebpush needs of a requests session (`post`), sent through the guarded client."""

    def __init__(self, allow: guarded_http.AllowList, timeouts: guarded_http.Timeouts = PUSH_TIMEOUTS,
                 max_answer_bytes: int = MAX_ANSWER_BYTES):
        self.allow, self.timeouts, self.max_answer_bytes = allow, timeouts, max_answer_bytes

    def post(self, url: str, data: Optional[bytes] = None, headers=None, timeout=None, **_ignored) -> PushAnswer:
        with guarded_http.request("POST", url, allow=self.allow, headers={k: str(v) for k, v in
                                                                          (headers or {}).items()},
                                  body=data, max_redirects=0, max_bytes=self.max_answer_bytes,
                                  timeouts=self.timeouts) as response:
            try:
                content = response.read()
            except guarded_http.ResponseTooLarge:
                content = b""  # the status is all we need; the rest is not read
            return PushAnswer(response.status, response.reason, response.headers, content)


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


class PushSender:
    """Signs Web Push messages with one VAPID key and sends them only to endpoints `allow` accepts.

    Parameters: `vapid_private_key` (raw base64url number or PEM; empty: every send is a PermanentError),
    `vapid_subject` (the `sub` claim, e.g. mailto:ops@example.com), `allow` (the endpoints' allow list),
    `timeouts` and `max_answer_bytes` (what is waited for and read of the push service's answer).

    >>> PushSender(key, "mailto:ops@example.com", AllowList.parse("https://fcm.googleapis.com", "HOSTS"))
    """

    def __init__(self, vapid_private_key: str, vapid_subject: str, allow: guarded_http.AllowList, *,
                 timeouts: guarded_http.Timeouts = PUSH_TIMEOUTS, max_answer_bytes: int = MAX_ANSWER_BYTES):
        self.vapid_private_key = vapid_private_key
        self.vapid_subject = vapid_subject
        self.session = GuardedPushSession(allow, timeouts, max_answer_bytes)

    def send(self, endpoint: str, p256dh: str, auth: str, payload: dict[str, Any], *,
             topic: Optional[str] = None, ttl: int = DEFAULT_TTL_SECONDS) -> int:
        """Encrypt `payload` (JSON) for the subscription and POST it to its endpoint; returns the HTTP status."""
        if not self.vapid_private_key:
            raise PermanentError("VAPID_PRIVATE_KEY is not set: Web Push cannot be signed")
        headers = {"Urgency": "normal"}
        if topic:
            headers["Topic"] = topic
        try:
            response = webpush({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                               data=json.dumps(payload, separators=(",", ":")),
                               vapid_private_key=_vapid(self.vapid_private_key),
                               vapid_claims={"sub": self.vapid_subject},  # a fresh dict: pywebpush adds aud/exp
                               ttl=ttl, headers=headers, requests_session=self.session)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in (404, 410):
                raise PushSubscriptionGone(f"push service answered {status}") from None
            if status is not None and (300 <= status < 400 or (400 <= status < 500 and status != 429)):
                raise PushRejected(f"push service answered {status}") from None
            raise PushUnavailable(f"push service answered {status}") from None
        except guarded_http.OutboundRefused as exc:
            log.warning("PUSH_ENDPOINT_REFUSED host=%s reason=%s", exc.host, exc.why)
            raise PushRefused("endpoint refused") from None
        except (guarded_http.OutboundUnavailable, OSError) as exc:
            raise PushUnavailable(f"push service unreachable: {type(exc).__name__}") from None
        return response.status_code


def from_settings(settings) -> PushSender:
    """The sender configured by VAPID_PRIVATE_KEY, VAPID_SUBJECT and PUSH_ENDPOINT_HOSTS."""
    return PushSender(settings.vapid_private_key, settings.vapid_subject, settings.push_allow_list)
