"""POST /api/broadcasts (message + up to 10,000 E.164 recipients, as one tracked batch job) and
GET /api/broadcasts/{id} (counters per recipient status)."""
from __future__ import annotations

import re
from typing import Optional

import falcon
from pydantic import BaseModel, Field, field_validator
from spectree import Response

from actors.broadcasts_service import broadcast_view, start_broadcast
from web.spec import ErrorBody, api

MAX_RECIPIENTS = 10_000
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")  # ASCII digits only: "+9٧٢…" is not a number
SEPARATORS = re.compile(r"[ \t\-().]")


def normalize_phone(raw: str) -> Optional[str]:
    """'+972 50-123-4567' -> '+972501234567'; None if it is not an E.164 number."""
    phone = SEPARATORS.sub("", raw)
    return phone if E164.match(phone) else None


class BroadcastIn(BaseModel):
    message: str = Field(min_length=1, max_length=4096)
    recipients: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS,
                                  description="E.164 phone numbers (+ and country code); duplicates are dropped")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("recipients")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        phones, bad = [], []
        for index, raw in enumerate(value):
            phone = normalize_phone(raw) if isinstance(raw, str) else None
            if phone is None:
                bad.append(f"[{index}] {str(raw)[:30]!r}")
            phones.append(phone)
        if bad:
            raise ValueError(f"{len(bad)} invalid phone number(s), expected E.164 like +972501234567: "
                             + ", ".join(bad[:10]) + (" …" if len(bad) > 10 else ""))
        return list(dict.fromkeys(phones))  # de-duplicated, first occurrence order


class BroadcastAccepted(BaseModel):
    broadcast_id: int
    job_id: str
    status: str
    recipients: int
    created: bool = Field(description="false when this business's active broadcast was returned instead")


class StatusCounts(BaseModel):
    queued: int
    sending: int
    sent: int
    failed: int
    unknown: int
    cancelled: int


class BroadcastOut(BaseModel):
    id: int
    job_id: Optional[str]
    status: Optional[str]
    message: str
    total: int
    counts: StatusCounts
    created_at: str


class BroadcastsCollection:
    auth = "business"

    def __init__(self, database):
        self.database = database

    @api.validate(json=BroadcastIn, resp=Response(HTTP_202=BroadcastAccepted, HTTP_422=ErrorBody), tags=["broadcasts"])
    def on_post(self, req, resp, json: BroadcastIn):
        """Start a broadcast; follow it at /api/broadcasts/{broadcast_id} or /api/jobs/{job_id}.

        Only one broadcast per business is active at a time: asking again returns the active one."""
        started = start_broadcast(self.database, req.context.business_id, json.message, json.recipients)
        resp.status = falcon.HTTP_202
        resp.media = {"broadcast_id": started.broadcast_id, "job_id": started.job_id, "status": started.status,
                      "recipients": started.recipients, "created": started.created}


class BroadcastItem:
    auth = "business"

    def __init__(self, database):
        self.database = database

    @api.validate(resp=Response(HTTP_200=BroadcastOut, HTTP_404=ErrorBody), tags=["broadcasts"])
    def on_get(self, req, resp, broadcast_id: int):
        """A broadcast with how many recipients are queued, sending, sent, failed, unknown or cancelled."""
        view = broadcast_view(self.database, req.context.business_id, broadcast_id)
        if view is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No broadcast {broadcast_id}.")
        resp.media = view

