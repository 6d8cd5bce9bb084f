"""Push subscriptions (a browser's PushSubscription JSON plus the user id) and notifications (202 job)."""
from __future__ import annotations

import base64
import binascii
from typing import Any, Optional

import falcon
from pydantic import BaseModel, Field, field_validator
from spectree import Response

from actors.push_service import forget_subscription, save_subscription, start_notification
from prosaas.clients.guarded_http import AllowList, OutboundRefused
from web.spec import ErrorBody, api


def _b64url_bytes(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be base64url") from None


class Keys(BaseModel):
    p256dh: str = Field(min_length=80, max_length=100)
    auth: str = Field(min_length=16, max_length=32)

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value):
        raw = _b64url_bytes(value)
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("must be an uncompressed P-256 public key (65 bytes, base64url)")
        return value

    @field_validator("auth")
    @classmethod
    def _secret(cls, value):
        if len(_b64url_bytes(value)) != 16:
            raise ValueError("must be a 16-byte auth secret (base64url)")
        return value


class SubscriptionIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=128)
    endpoint: str = Field(max_length=2048, json_schema_extra={"format": "uri"})
    keys: Keys
    expirationTime: Optional[float] = None


def _refuse_unlisted_endpoint(allow: AllowList, endpoint: str) -> None:
    """Decided here, on the host and port the worker would connect to: an endpoint off PUSH_ENDPOINT_HOSTS is
    never stored, so it is never contacted (422 in the words of a field validator)."""
    try:
        allow.check(endpoint)
    except OutboundRefused as exc:
        raise falcon.HTTPUnprocessableEntity(title="Invalid request", description=(
            "endpoint: Value error, not an allowed push service: must be https on a host of PUSH_ENDPOINT_HOSTS "
            f"({exc})")) from None


class SubscriptionOut(BaseModel):
    id: str
    user_id: str
    endpoint: str
    active: bool
    created_at: str


class NotificationIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=128)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=2000)
    url: Optional[str] = Field(default=None, max_length=2048)
    data: Optional[dict[str, Any]] = None


class Accepted(BaseModel):
    job_id: str
    status: str


class Subscriptions:
    auth = "business"

    def __init__(self, database, allow: AllowList):
        self.database = database
        self.allow = allow

    @api.validate(json=SubscriptionIn, resp=Response(HTTP_201=SubscriptionOut, HTTP_422=ErrorBody), tags=["push"])
    def on_post(self, req, resp, json: SubscriptionIn):
        """Save a browser's push subscription for a user (the same endpoint again refreshes it).

        The endpoint must be https on a host of PUSH_ENDPOINT_HOSTS (422 otherwise)."""
        _refuse_unlisted_endpoint(self.allow, json.endpoint)
        resp.media = save_subscription(self.database, req.context.business_id, user_id=json.user_id,
                                       endpoint=json.endpoint, p256dh=json.keys.p256dh, auth=json.keys.auth)
        resp.status = falcon.HTTP_201


class Subscription:
    auth = "business"

    def __init__(self, database):
        self.database = database

    @api.validate(resp=Response("HTTP_204", HTTP_404=ErrorBody), tags=["push"])
    def on_delete(self, req, resp, subscription_id: str):
        """Forget a push subscription."""
        if not forget_subscription(self.database, req.context.business_id, subscription_id):
            raise falcon.HTTPNotFound(title="Not found", description=f"No subscription {subscription_id}.")
        resp.status = falcon.HTTP_204


class Notifications:
    auth = "business"

    @api.validate(json=NotificationIn, resp=Response(HTTP_202=Accepted, HTTP_422=ErrorBody), tags=["push"])
    def on_post(self, req, resp, json: NotificationIn):
        """Send a Web Push notification to every active subscription of the user (a tracked job)."""
        enqueued = start_notification(req.context.business_id, json.model_dump(exclude_none=True))
        resp.status = falcon.HTTP_202
        resp.media = {"job_id": enqueued.job_id, "status": enqueued.status}

