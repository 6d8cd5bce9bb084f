"""POST|GET /api/reminders, DELETE /api/reminders/{id}: times in, UTC stored, shown also in the business's zone."""
from __future__ import annotations

import datetime as dt
from typing import Literal, Optional
from zoneinfo import ZoneInfo

import falcon
from pydantic import AwareDatetime, BaseModel, Field
from spectree import Response

from db import reminders_store
from db.base import utcnow
from db.models.messaging import ReminderSendStatus
from web.spec import ErrorBody, api


class ReminderIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=128)
    due_at: AwareDatetime  # ISO 8601 with an offset; a naive time is refused
    text: str = Field(min_length=1, max_length=2000)


class RemindersQuery(BaseModel):
    user_id: Optional[str] = Field(default=None, max_length=128)
    status: Optional[Literal["pending", "done"]] = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class ReminderOut(BaseModel):
    id: str
    user_id: str
    text: str
    due_at: str
    due_at_local: str
    timezone: str
    status: str
    created_at: str
    notified_offsets: list[int]


class ReminderList(BaseModel):
    reminders: list[ReminderOut]


def _zone(req) -> tuple[str, dt.tzinfo]:
    name = getattr(req.context, "business_timezone", None) or "UTC"
    try:
        return name, ZoneInfo(name)
    except Exception:
        return "UTC", dt.timezone.utc


def reminder_view(row, zone_name: str, zone: dt.tzinfo, notified: list[int]) -> dict:
    return {"id": row.id, "user_id": row.user_id, "text": row.text, "due_at": row.due_at.isoformat(),
            "due_at_local": row.due_at.astimezone(zone).isoformat(), "timezone": zone_name, "status": row.status,
            "created_at": row.created_at.isoformat(), "notified_offsets": notified}


class Reminders:
    auth = "business"

    def __init__(self, database):
        self.database = database

    @api.validate(json=ReminderIn, resp=Response(HTTP_201=ReminderOut, HTTP_422=ErrorBody), tags=["reminders"])
    def on_post(self, req, resp, json: ReminderIn):
        """Create a reminder; its creator gets a push at each offset before `due_at`."""
        due_at = json.due_at.astimezone(dt.timezone.utc)
        if due_at <= utcnow():
            raise falcon.HTTPUnprocessableEntity(title="Invalid request", description="due_at: must be in the future")
        zone_name, zone = _zone(req)
        with self.database.session() as session:
            row = reminders_store.create_reminder(session, business_id=req.context.business_id,
                                                  user_id=json.user_id, text=json.text, due_at=due_at)
            resp.media = reminder_view(row, zone_name, zone, [])
        resp.status = falcon.HTTP_201

    @api.validate(query=RemindersQuery, resp=Response(HTTP_200=ReminderList), tags=["reminders"])
    def on_get(self, req, resp, query: RemindersQuery):
        """This business's reminders, soonest first."""
        zone_name, zone = _zone(req)
        with self.database.session() as session:
            rows = reminders_store.list_reminders(session, req.context.business_id, user_id=query.user_id,
                                                  status=query.status, limit=query.limit, offset=query.offset)
            resp.media = {"reminders": [
                reminder_view(r, zone_name, zone,
                              [s.offset_minutes for s in reminders_store.sends_of(session, r.business_id, r.id)
                               if s.status != ReminderSendStatus.SKIPPED]) for r in rows]}


class Reminder:
    auth = "business"

    def __init__(self, database):
        self.database = database

    @api.validate(resp=Response("HTTP_204", HTTP_404=ErrorBody), tags=["reminders"])
    def on_delete(self, req, resp, reminder_id: str):
        """Delete a reminder (no further notifications)."""
        with self.database.session() as session:
            if not reminders_store.delete_reminder(session, req.context.business_id, reminder_id):
                raise falcon.HTTPNotFound(title="Not found", description=f"No reminder {reminder_id}.")
        resp.status = falcon.HTTP_204

