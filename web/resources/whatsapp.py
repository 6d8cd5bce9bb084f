"""POST /whatsapp/webhook: the Baileys service's messages, HMAC-signed; checked, then one tracked job, 202."""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Optional

import falcon
import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from spectree import Response

from actors.whatsapp import whatsapp_webhook
from db.businesses import get_business
from prosaas.jobs import enqueue_tracked_or_undo
from web.input_guard import DatabaseId, parse_json_body
from web.spec import ErrorBody, api, validation_problems

log = logging.getLogger("prosaas.web.whatsapp")
SIGNATURE_HEADER = "X-Signature"
REPLAY_WINDOW_SECONDS = 24 * 3600


class WebhookMessage(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1, max_length=128)
    from_: str = Field(alias="from", min_length=1, max_length=128)
    text: Optional[str] = Field(default="", max_length=65_536)
    timestamp: Optional[float] = None
    fromMe: bool = False


class WebhookIn(BaseModel):
    business_id: DatabaseId
    messages: list[WebhookMessage] = Field(max_length=1000)


class WebhookAccepted(BaseModel):
    job_id: Optional[str]
    messages: int


def signature_for(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signature_ok(secret: str, body: bytes, header: Optional[str]) -> bool:
    if not header:
        return False
    return hmac.compare_digest(signature_for(secret, body).encode(), header.strip().lower().encode())


class ReplayGuard:
    """Each accepted signed body once: its SHA-256 is kept REPLAY_WINDOW_SECONDS (SET NX EX), and a body seen
    again is answered 202 with the first job's id, without a second job."""

    def __init__(self, runtime):
        self.client = runtime.redis
        self.keys = runtime.keys

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


class WhatsAppWebhook:
    auth = "signed"
    max_body_bytes = 2 * 1024 * 1024  # read no more than this before the signature is checked (413 above)

    @api.validate(resp=Response(HTTP_202=WebhookAccepted, HTTP_401=ErrorBody, HTTP_404=ErrorBody, HTTP_422=ErrorBody),
                  tags=["whatsapp"], security={})
    def on_post(self, req, resp):
        """Baileys webhook: `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`; answers 202 at once.

        Body: `{"business_id": int, "messages": [{"id", "from", "text", "timestamp", "fromMe"?}]}` (read raw
        for the signature, then validated: 401 bad signature, 422 malformed, 404 unknown business). A body
        accepted within the last 24 h is a replay: 202 with the first job's id, nothing enqueued.
        """
        secret = req.context.runtime.settings.whatsapp_webhook_secret
        if not secret:
            raise falcon.HTTPServiceUnavailable(title="Webhook not configured",
                                                description="WHATSAPP_WEBHOOK_SECRET is not set on this server.")
        body = req.bounded_stream.read()
        if not _signature_ok(secret, body, req.get_header(SIGNATURE_HEADER)):
            log.warning("WHATSAPP_WEBHOOK_REJECTED reason=signature")
            raise falcon.HTTPUnauthorized(title="Bad signature",
                                          description=f"{SIGNATURE_HEADER} must be sha256=<hex HMAC of the body>.")
        try:
            payload = WebhookIn.model_validate(parse_json_body(body))
        except (ValueError, ValidationError) as exc:
            detail = validation_problems(exc) if isinstance(exc, ValidationError) else "body is not JSON"
            raise falcon.HTTPUnprocessableEntity(title="Invalid webhook", description=detail)
        with req.context.runtime.database.session() as session:
            if get_business(session, payload.business_id) is None:
                raise falcon.HTTPNotFound(title="Unknown business",
                                          description=f"No business {payload.business_id}.")
        job_id = None
        if payload.messages:
            replays = ReplayGuard(req.context.runtime)
            first, job_id = replays.claim(body)
            if not first:
                log.info("WHATSAPP_WEBHOOK_REPLAY business_id=%s messages=%d job_id=%s", payload.business_id,
                         len(payload.messages), job_id or "-")
                resp.status = falcon.HTTP_202
                resp.media = {"job_id": job_id, "messages": len(payload.messages)}
                return
            messages = [m.model_dump(by_alias=True) for m in payload.messages]
            enqueued = enqueue_tracked_or_undo(whatsapp_webhook, business_id=payload.business_id,
                                               kwargs={"messages": messages},
                                               undo=lambda: replays.forget(body))  # the sender's retry is new
            job_id = enqueued.job_id
            replays.remember_job(body, job_id)
        log.info("WHATSAPP_WEBHOOK_ACCEPTED business_id=%s messages=%d job_id=%s", payload.business_id,
                 len(payload.messages), job_id or "-")
        resp.status = falcon.HTTP_202
        resp.media = {"job_id": job_id, "messages": len(payload.messages)}


def register(app, runtime):
    app.add_route("/whatsapp/webhook", WhatsAppWebhook())
