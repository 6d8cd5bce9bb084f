"""POST /whatsapp/webhook: the Baileys service's messages, HMAC-signed; checked, then one tracked job, 202."""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Optional

import falcon
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from spectree import Response

from actors.whatsapp_service import ReplayGuard, UnknownBusiness, accept_webhook
from web.input_guard import DatabaseId, parse_json_body
from web.spec import ErrorBody, api, validation_problems

log = logging.getLogger("prosaas.web.whatsapp")
SIGNATURE_HEADER = "X-Signature"


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


class WhatsAppWebhook:
    auth = "signed"
    max_body_bytes = 2 * 1024 * 1024  # read no more than this before the signature is checked (413 above)

    def __init__(self, database, replays: ReplayGuard, secret: str):
        self.database = database
        self.replays = replays
        self.secret = secret  # WHATSAPP_WEBHOOK_SECRET; empty: the webhook answers 503

    @api.validate(resp=Response(HTTP_202=WebhookAccepted, HTTP_401=ErrorBody, HTTP_404=ErrorBody, HTTP_422=ErrorBody),
                  tags=["whatsapp"], security={})
    def on_post(self, req, resp):
        """Baileys webhook: `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`; answers 202 at once.

        Body: `{"business_id": int, "messages": [{"id", "from", "text", "timestamp", "fromMe"?}]}` (read raw
        for the signature, then validated: 401 bad signature, 422 malformed, 404 unknown business). A body
        accepted within the last 24 h is a replay: 202 with the first job's id, nothing enqueued.
        """
        secret = self.secret
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
        try:
            accepted = accept_webhook(self.database, self.replays, body, payload.business_id,
                                      [m.model_dump(by_alias=True) for m in payload.messages])
        except UnknownBusiness:
            raise falcon.HTTPNotFound(title="Unknown business",
                                      description=f"No business {payload.business_id}.") from None
        resp.status = falcon.HTTP_202
        resp.media = {"job_id": accepted.job_id, "messages": len(payload.messages)}

