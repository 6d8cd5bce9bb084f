"""WhatsApp, the service: accept a signed Baileys webhook body once (a replay gets the first job) as one job."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Optional

import redis

from db.businesses import get_business
from prosaas.jobs import enqueue_tracked_or_undo
from prosaas.redis_protocol import Keys

from actors.whatsapp import whatsapp_webhook

log = logging.getLogger("prosaas.web.whatsapp")
REPLAY_WINDOW_SECONDS = 24 * 3600


class UnknownBusiness(Exception):
    """The webhook names a business this server does not have."""


@dataclass(frozen=True)
class WebhookResult:
    job_id: Optional[str]  # None: no messages, or a replay of a body whose job is not known
    replay: bool


class ReplayGuard:
    """Each accepted signed body once: its SHA-256 is kept REPLAY_WINDOW_SECONDS (SET NX EX), and a body seen
    again is answered 202 with the first job's id, without a second job."""

    def __init__(self, client: redis.Redis, keys: Keys):
        self.client = client
        self.keys = keys

    def _key(self, body: bytes) -> str:
        return self.keys("whatsapp", "seen", hashlib.sha256(body).hexdigest())

    def claim(self, body: bytes) -> tuple[bool, Optional[str]]:
        """(True, None) the first time a body is seen; (False, first job id or None) for a replay."""
        key = self._key(body)
        if self.client.set(key, "", nx=True, ex=REPLAY_WINDOW_SECONDS):
            return True, None
        return False, (self.client.get(key) or b"").decode() or None

    def remember_job(self, body: bytes, job_id: str) -> None:
        self.client.set(self._key(body), job_id, xx=True, keepttl=True)

    def forget(self, body: bytes) -> None:
        try:
            self.client.delete(self._key(body))
        except redis.RedisError:
            pass  # Redis is down: the enqueue failed for the same reason, and the key expires anyway


def accept_webhook(database, replays: ReplayGuard, body: bytes, business_id: int,
                   messages: list[dict[str, Any]]) -> WebhookResult:
    """One tracked job for the messages of a (signature-checked) body; a body seen within the window is a replay.

    Raises UnknownBusiness, or BrokerUnavailable (the body is forgotten: the sender's retry is processed).
    """
    with database.session() as session:
        if get_business(session, business_id) is None:
            raise UnknownBusiness(business_id)
    job_id = None
    if messages:
        first, job_id = replays.claim(body)
        if not first:
            log.info("WHATSAPP_WEBHOOK_REPLAY business_id=%s messages=%d job_id=%s", business_id, len(messages),
                     job_id or "-")
            return WebhookResult(job_id, replay=True)
        enqueued = enqueue_tracked_or_undo(whatsapp_webhook, business_id=business_id, kwargs={"messages": messages},
                                           undo=lambda: replays.forget(body))  # the sender's retry is new
        job_id = enqueued.job_id
        replays.remember_job(body, job_id)
    log.info("WHATSAPP_WEBHOOK_ACCEPTED business_id=%s messages=%d job_id=%s", business_id, len(messages),
             job_id or "-")
    return WebhookResult(job_id, replay=False)
