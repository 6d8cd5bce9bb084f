"""Reminders API (UTC storage, business time zone) and the tick: one push per reminder and offset."""
from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select

from actors.reminders_work import delete_old_finished, offset_to_send, run_tick
from db import reminders_store
from db.base import utcnow
from db.models.core import BackgroundJob
from db.models.messaging import Reminder, ReminderSend
from tests.messaging.conftest import wait_job
from tests.support.processes import wait_for

OFFSETS = [30, 15, 5]


def test_offset_choice_sends_only_the_latest_offset_that_came_due():
    due = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.timezone.utc)
    assert offset_to_send(due, due - dt.timedelta(minutes=31), OFFSETS) == (None, [])
    assert offset_to_send(due, due - dt.timedelta(minutes=30), OFFSETS) == (30, [])
    assert offset_to_send(due, due - dt.timedelta(minutes=14), OFFSETS) == (15, [30])
    assert offset_to_send(due, due - dt.timedelta(minutes=1), OFFSETS) == (5, [15, 30])
    assert offset_to_send(due, due + dt.timedelta(minutes=1), OFFSETS) == (5, [15, 30])  # within grace
    assert offset_to_send(due, due + dt.timedelta(minutes=3), OFFSETS) == (None, [])


def test_reminders_api_stores_utc_and_shows_the_business_zone(client, make_business):
    business = make_business("Jerusalem salon", timezone="Asia/Jerusalem")
    created = client.simulate_post("/api/reminders", headers=business.headers, json={
        "user_id": "owner-1", "due_at": "2099-06-01T09:30:00+03:00", "text": "Call the supplier"})
    assert created.status_code == 201, created.text
    body = created.json
    assert body["due_at"] == "2099-06-01T06:30:00+00:00" and body["due_at_local"] == "2099-06-01T09:30:00+03:00"
    assert body["timezone"] == "Asia/Jerusalem" and body["status"] == "pending"
    for bad in ({"user_id": "u", "due_at": "2099-06-01T09:30:00", "text": "naive"},
                {"user_id": "u", "due_at": "2001-01-01T00:00:00Z", "text": "past"},
                {"user_id": "u", "due_at": "tomorrow", "text": "x"}, {"due_at": "2099-06-01T09:30:00Z"}):
        assert client.simulate_post("/api/reminders", headers=business.headers, json=bad).status_code == 422, bad
    listed = client.simulate_get("/api/reminders", headers=business.headers).json["reminders"]
    assert [r["id"] for r in listed] == [body["id"]]
    other = make_business("Other")
    assert client.simulate_get("/api/reminders", headers=other.headers).json["reminders"] == []
    assert client.simulate_delete(f"/api/reminders/{body['id']}", headers=other.headers).status_code == 404
    assert client.simulate_delete(f"/api/reminders/{body['id']}", headers=business.headers).status_code == 204
    assert client.simulate_get("/api/reminders", headers=business.headers).json["reminders"] == []


def test_due_reminder_under_two_concurrent_ticks_sends_one_push(client, make_business, runtime, fake_webpush,
                                                                messaging_worker):
    business = make_business("Tel Aviv clinic", timezone="Asia/Jerusalem")
    subscription = fake_webpush.new_subscription()
    assert client.simulate_post("/api/push/subscriptions", headers=business.headers,
                                json={"user_id": "owner-2", **subscription}).status_code == 201
    due = (utcnow() + dt.timedelta(minutes=4)).replace(microsecond=0)
    created = client.simulate_post("/api/reminders", headers=business.headers, json={
        "user_id": "owner-2", "due_at": due.isoformat(), "text": "Patient at the door"}).json

    now = utcnow()
    barrier = threading.Barrier(2)
    results = []

    def tick():
        barrier.wait()
        results.append(run_tick(runtime.database, OFFSETS, now))
    threads = [threading.Thread(target=tick) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(r["notified"] for r in results) == [0, 1], results
    next_tick = run_tick(runtime.database, OFFSETS, now + dt.timedelta(seconds=30))
    assert next_tick["notified"] == 0  # nothing new

    with runtime.database.session() as session:
        sends = {s.offset_minutes: s for s in reminders_store.sends_of(session, business.id, created["id"])}
        jobs = list(session.scalars(select(BackgroundJob).where(BackgroundJob.business_id == business.id,
                                                                BackgroundJob.type == "push_send")))
    assert {o: s.status for o, s in sends.items()} == {5: "enqueued", 15: "skipped", 30: "skipped"}
    assert len(jobs) == 1 and sends[5].job_id == jobs[0].id
    assert wait_job(runtime, jobs[0].id).status == "completed"
    [push] = fake_webpush.received_by(subscription["endpoint"])
    local = due.astimezone(dt.timezone(dt.timedelta(hours=2))).strftime("%H:%M")  # Israel in November: UTC+2
    assert push["payload"]["title"] == f"Reminder at {local}" and push["payload"]["body"] == "Patient at the door"
    assert push["payload"]["data"]["offset_minutes"] == 5
    listed = client.simulate_get("/api/reminders", headers=business.headers).json["reminders"]
    assert listed[0]["notified_offsets"] == [5]


def test_each_offset_fires_once_then_the_reminder_finishes_and_is_cleaned_up(make_business, runtime):
    business = make_business("Offsets")
    due = utcnow() + dt.timedelta(minutes=40)
    with runtime.database.session() as session:
        reminder = reminders_store.create_reminder(session, business_id=business.id, user_id="u", text="t",
                                                   due_at=due)
    notified = []
    for minutes_before in range(35, -4, -1):  # a tick every minute from due-35 to due+3
        counts = run_tick(runtime.database, OFFSETS, due - dt.timedelta(minutes=minutes_before))
        if counts["notified"]:
            notified.append(minutes_before)
    assert notified == [30, 15, 5]
    with runtime.database.session() as session:
        row = session.get(Reminder, reminder.id)
        assert row.status == "done" and row.finished_at is not None
        row.finished_at = utcnow() - dt.timedelta(days=8)
    assert delete_old_finished(runtime.database)["deleted"] >= 1
    with runtime.database.session() as session:
        assert session.get(Reminder, reminder.id) is None
        assert session.scalars(select(ReminderSend).where(ReminderSend.reminder_id == reminder.id)).all() == []


def test_a_late_periodic_tick_is_skipped_by_the_worker(runtime, messaging_worker, broker):
    from actors.reminders import reminders_tick

    stale = (utcnow() - dt.timedelta(minutes=10)).isoformat()
    message = reminders_tick.message_with_options(scheduled_at=stale)
    broker.enqueue(message)
    wait_for(lambda: f"Skipping {message.message_id}" in messaging_worker.log(), 20,
             what="the worker to skip a tick older than the bound")


def test_a_claim_whose_push_was_never_enqueued_is_recovered_once(make_business, runtime):
    business = make_business("Orphan")
    with runtime.database.session() as session:
        reminder = reminders_store.create_reminder(session, business_id=business.id, user_id="u", text="t",
                                                   due_at=utcnow() + dt.timedelta(minutes=3))
        session.add(ReminderSend(business_id=business.id, reminder_id=reminder.id, offset_minutes=5,
                                 status="claimed", created_at=utcnow() - dt.timedelta(minutes=3)))
    # The tick's worker died between claiming offset 5 and enqueueing its push.
    assert run_tick(runtime.database, OFFSETS)["recovered"] == 1
    assert run_tick(runtime.database, OFFSETS)["recovered"] == 0
    with runtime.database.session() as session:
        [send] = reminders_store.sends_of(session, business.id, reminder.id)
        assert send.status == "enqueued" and send.job_id
