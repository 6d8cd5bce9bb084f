"""POST /api/broadcasts (message + up to 10,000 E.164 recipients, as one tracked batch job) and
GET /api/broadcasts/{id} (counters per recipient status)."""
from __future__ import annotations

import re
from typing import Optional

import falcon
from pydantic import BaseModel, Field, field_validator
from spectree import Response

from actors.broadcasts import send_broadcast
from db import broadcasts_store, job_store
from prosaas.jobs import enqueue_tracked_or_undo
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

    @api.validate(json=BroadcastIn, resp=Response(HTTP_202=BroadcastAccepted, HTTP_422=ErrorBody), tags=["broadcasts"])
    def on_post(self, req, resp, json: BroadcastIn):
        """Start a broadcast; follow it at /api/broadcasts/{broadcast_id} or /api/jobs/{job_id}.

        Only one broadcast per business is active at a time: asking again returns the active one."""
        database = req.context.runtime.database
        business_id = req.context.business_id
        with database.session() as session:
            active = job_store.find_active_job(session, business_id, send_broadcast.options["job_type"])
            existing = active and broadcasts_store.broadcast_for_job(session, business_id, active.id)
            if existing:
                resp.status = falcon.HTTP_202
                resp.media = {"broadcast_id": existing.id, "job_id": active.id, "status": active.status,
                              "recipients": existing.total, "created": False}
                return
            broadcast = broadcasts_store.create_broadcast(session, business_id, json.message, json.recipients)
            broadcast_id = broadcast.id

        def discard():
            with database.session() as session:
                broadcasts_store.discard_broadcast(session, broadcast_id)

        enqueued = enqueue_tracked_or_undo(send_broadcast, business_id=business_id,
                                           kwargs={"broadcast_id": broadcast_id}, undo=discard)
        with database.session() as session:
            if enqueued.created:
                broadcasts_store.attach_job(session, broadcast_id, enqueued.job_id)
            else:  # lost a race with a concurrent request: answer with the active one
                broadcasts_store.discard_broadcast(session, broadcast_id)
                broadcast_id = enqueued.job.args.get("broadcast_id")
        resp.status = falcon.HTTP_202
        resp.media = {"broadcast_id": broadcast_id, "job_id": enqueued.job_id, "status": enqueued.status,
                      "recipients": len(json.recipients), "created": enqueued.created}


class BroadcastItem:
    auth = "business"

    @api.validate(resp=Response(HTTP_200=BroadcastOut, HTTP_404=ErrorBody), tags=["broadcasts"])
    def on_get(self, req, resp, broadcast_id: int):
        """A broadcast with how many recipients are queued, sending, sent, failed, unknown or cancelled."""
        business_id = req.context.business_id
        with req.context.runtime.database.session() as session:
            broadcast = broadcasts_store.get_broadcast(session, business_id, broadcast_id)
            if broadcast is None:
                raise falcon.HTTPNotFound(title="Not found", description=f"No broadcast {broadcast_id}.")
            job = job_store.get_job(session, broadcast.job_id, business_id) if broadcast.job_id else None
            resp.media = {"id": broadcast.id, "job_id": broadcast.job_id, "status": job.status if job else None,
                          "message": broadcast.message, "total": broadcast.total,
                          "counts": broadcasts_store.status_counts(session, broadcast.id),
                          "created_at": broadcast.created_at.isoformat()}


def register(app, runtime):
    app.add_route("/api/broadcasts", BroadcastsCollection())
    app.add_route("/api/broadcasts/{broadcast_id:int}", BroadcastItem())
