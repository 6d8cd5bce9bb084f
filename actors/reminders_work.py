"""The reminders tick: notify each pending reminder at each offset before it is due, exactly once.

A tick claims (reminder, offset) by inserting a unique row in its own transaction; only the tick whose
insert wins enqueues the push, so concurrent or repeated ticks never notify twice. After a missed tick
only the latest offset that came due is sent; earlier ones are recorded as skipped.
"""
from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from db import reminders_store
from db.base import utcnow
from db.businesses import get_business
from db.models.messaging import ReminderSendStatus
from prosaas.errors import BrokerUnavailable
from prosaas.jobs import enqueue_tracked_or_undo

log = logging.getLogger("prosaas.reminders")
GRACE = dt.timedelta(minutes=2)            # a late tick still sends an offset up to this long after due
ORPHAN_AFTER = dt.timedelta(minutes=2)     # a claim without its push job this long is re-enqueued
FINISHED_RETENTION = dt.timedelta(days=7)  # reminders cleanup deletes finished ones older than this


def offset_to_send(due_at: dt.datetime, now: dt.datetime, offsets: list[int]) -> tuple[int | None, list[int]]:
    """(the offset whose time has come most recently, the earlier ones it supersedes)."""
    if now >= due_at + GRACE:
        return None, []
    come = sorted(o for o in offsets if due_at - dt.timedelta(minutes=o) <= now)
    if not come:
        return None, []
    return come[0], come[1:]


def _local_time(due_at: dt.datetime, timezone: str) -> str:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except Exception:
        zone = ZoneInfo("UTC")
    return due_at.astimezone(zone).strftime("%H:%M")


def _enqueue_push(business_id: int, reminder_id: str, user_id: str, text: str, due_at: dt.datetime,
                  offset: int, timezone: str, *, undo):
    from actors.push import push_send

    local = _local_time(due_at, timezone)
    return enqueue_tracked_or_undo(push_send, business_id=business_id, undo=undo, kwargs={
        "user_id": user_id, "title": f"Reminder at {local}", "body": text,
        "data": {"reminder_id": reminder_id, "offset_minutes": offset, "due_at": due_at.isoformat()},
        "notification_key": f"reminder:{reminder_id}:{offset}"})


def run_tick(database, offsets: list[int], now: dt.datetime | None = None) -> dict[str, int]:
    """Notify what came due at `now` at one of `offsets` (minutes before due, REMINDER_OFFSETS_MINUTES)."""
    now = now or utcnow()
    counts = {"considered": 0, "notified": 0, "lost_race": 0, "skipped_offsets": 0, "recovered": 0,
              "finished": 0, "enqueue_failed": 0}
    with database.session() as session:
        reminders = [(r.id, r.business_id, r.user_id, r.text, r.due_at)
                     for r in reminders_store.pending_due_within(session, now=now,
                                                                 horizon=dt.timedelta(minutes=max(offsets)))]
        timezones: dict[int, str] = {}
        for _, business_id, *_rest in reminders:
            if business_id not in timezones:
                business = get_business(session, business_id)
                timezones[business_id] = business.timezone if business else "UTC"
    for reminder_id, business_id, user_id, text, due_at in reminders:
        counts["considered"] += 1
        offset, superseded = offset_to_send(due_at, now, offsets)
        if offset is None:
            continue
        with database.session() as session:
            reminder = reminders_store.get_reminder(session, business_id, reminder_id)
            if reminder is None or offset in reminders_store.sent_offsets(session, reminder_id):
                continue
            claim = reminders_store.claim_offset(session, reminder, offset, ReminderSendStatus.CLAIMED)
        # The session above committed: if our insert is there, this tick alone owns the offset.
        if claim is None:
            counts["lost_race"] += 1
            continue
        with database.session() as session:
            for earlier in superseded:
                if reminders_store.claim_offset(session, reminder, earlier, ReminderSendStatus.SKIPPED) is not None:
                    counts["skipped_offsets"] += 1

        def release_claim(claim_id=claim.id):  # the next tick claims this offset again
            with database.session() as session:
                reminders_store.release_claim(session, claim_id)

        try:
            enqueued = _enqueue_push(business_id, reminder_id, user_id, text, due_at, offset,
                                     timezones.get(business_id, "UTC"), undo=release_claim)
        except BrokerUnavailable:
            counts["enqueue_failed"] += 1
            continue
        with database.session() as session:
            reminders_store.set_send_job(session, claim.id, enqueued.job_id, ReminderSendStatus.ENQUEUED)
        counts["notified"] += 1
        log.info("REMINDER_NOTIFIED business_id=%s reminder_id=%s offset_minutes=%s job_id=%s", business_id,
                 reminder_id, offset, enqueued.job_id)
    counts["recovered"] = _recover_orphaned_claims(database, now)
    with database.session() as session:
        counts["finished"] = reminders_store.finish_past_due(session, due_before=now - GRACE)
    return counts


def _recover_orphaned_claims(database, now: dt.datetime) -> int:
    recovered = 0
    with database.session() as session:
        orphans = reminders_store.orphaned_claims(session, claimed_before=now - ORPHAN_AFTER)
    for send in orphans:
        with database.session() as session:
            if not reminders_store.take_over_claim(session, send):
                continue
            reminder = reminders_store.get_reminder(session, send.business_id, send.reminder_id)
            business = get_business(session, send.business_id)
        if reminder is None:
            continue
        try:
            enqueued = _enqueue_push(reminder.business_id, reminder.id, reminder.user_id, reminder.text,
                                     reminder.due_at, send.offset_minutes, business.timezone if business else "UTC",
                                     undo=lambda: None)  # the claim stays taken over: orphaned again, retried later
        except BrokerUnavailable:
            continue
        with database.session() as session:
            reminders_store.set_send_job(session, send.id, enqueued.job_id, ReminderSendStatus.ENQUEUED)
        recovered += 1
        log.info("REMINDER_CLAIM_RECOVERED reminder_id=%s offset_minutes=%s", send.reminder_id, send.offset_minutes)
    return recovered


def delete_old_finished(database, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    with database.session() as session:
        deleted = reminders_store.delete_finished(session, finished_before=now - FINISHED_RETENTION)
    log.info("REMINDERS_CLEANUP deleted=%d", deleted)
    return {"deleted": deleted}
