"""WhatsApp broadcasts: the API, and real workers sending through a fake Baileys gateway (real HTTP)."""
from __future__ import annotations

import collections
import time

import pytest

from tests.support.fake_baileys import FakeBaileys
from tests.support.processes import wait_for

QUEUES = "maintenance,broadcasts"


@pytest.fixture
def fake_baileys():
    with FakeBaileys() as fake:
        yield fake


@pytest.fixture
def broadcast_env(fake_baileys) -> dict:
    return {"BAILEYS_URL": fake_baileys.url, "BROADCAST_DELAY_SECONDS": "0.01", "BROADCAST_RETRY_SECONDS": "0.5",
            "WORKER_DEAD_AFTER_SECONDS": "5", "JOB_STALE_AFTER_SECONDS": "5"}


def phones(count: int, start: int = 0) -> list[str]:
    return [f"+97250{start + index:07d}" for index in range(count)]


def start_broadcast(client, business, recipients, message="Sale today: 20% off") -> dict:
    answer = client.simulate_post("/api/broadcasts", json={"message": message, "recipients": recipients},
                                  headers=business.headers)
    assert answer.status_code == 202, answer.text
    return answer.json


def broadcast(client, business, broadcast_id) -> dict:
    return client.simulate_get(f"/api/broadcasts/{broadcast_id}", headers=business.headers).json


def wait_broadcast(client, business, broadcast_id, *statuses, timeout=60) -> dict:
    return wait_for(lambda: (lambda body: body if body["status"] in statuses else None)(
        broadcast(client, business, broadcast_id)), timeout, interval=0.05, what=f"broadcast {'/'.join(statuses)}")


def recipient_statuses(broadcast_id: int) -> dict[str, list[str]]:
    from sqlalchemy import select

    from db.models.batch import BroadcastRecipient
    from prosaas.runtime import get_runtime

    found = collections.defaultdict(list)
    with get_runtime().database.session() as session:
        for phone, status in session.execute(select(BroadcastRecipient.phone, BroadcastRecipient.status)
                                             .where(BroadcastRecipient.broadcast_id == broadcast_id)):
            found[status].append(phone)
    return found


def per_phone(records) -> collections.Counter:
    return collections.Counter(record["to"] for record in records)


def test_broadcast_request_is_validated_deduplicated_and_scoped(client, business, make_business):
    bad = client.simulate_post("/api/broadcasts", json={"message": "hi", "recipients": ["+972501234567", "0501234567",
                                                                                           "+12"]},
                               headers=business.headers)
    assert bad.status_code == 422
    assert "[1] '0501234567'" in bad.json["description"] and "[2] '+12'" in bad.json["description"]
    too_many = client.simulate_post("/api/broadcasts", json={"message": "hi", "recipients": phones(10_001)},
                                    headers=business.headers)
    assert too_many.status_code == 422 and "10000" in too_many.json["description"]
    for body in ({"message": "  ", "recipients": ["+972501234567"]}, {"message": "hi", "recipients": []},
                 {"recipients": ["+972501234567"]}):
        assert client.simulate_post("/api/broadcasts", json=body, headers=business.headers).status_code == 422

    accepted = start_broadcast(client, business, ["+972 50-123-4567", "+972501234567", "+14155550100"])
    assert accepted["recipients"] == 2 and accepted["created"] is True
    view = broadcast(client, business, accepted["broadcast_id"])
    assert view["total"] == 2 and view["status"] == "queued" and view["job_id"] == accepted["job_id"]
    assert view["counts"] == {"queued": 2, "sending": 0, "sent": 0, "failed": 0, "unknown": 0, "cancelled": 0}
    job = client.simulate_get(f"/api/jobs/{accepted['job_id']}", headers=business.headers).json
    assert job["type"] == "whatsapp_broadcast" and job["queue"] == "broadcasts"
    again = start_broadcast(client, business, ["+14155550199"], message="another")
    assert again["created"] is False and again["broadcast_id"] == accepted["broadcast_id"]
    assert again["job_id"] == accepted["job_id"]  # one active broadcast per business
    other = make_business()
    assert client.simulate_get(f"/api/broadcasts/{accepted['broadcast_id']}", headers=other.headers).status_code == 404
    client.simulate_post(f"/api/jobs/{accepted['job_id']}/cancel", headers=business.headers)
    assert broadcast(client, business, accepted["broadcast_id"])["status"] == "cancelled"


def test_pause_resume_sends_each_recipient_exactly_once_and_cancel_stops(client, business, fake_baileys,
                                                                          broadcast_env, worker_factory):
    worker_factory(queues=QUEUES, env={**broadcast_env, "BROADCAST_DELAY_SECONDS": "0.03-0.05"})
    recipients = phones(40)
    started = start_broadcast(client, business, recipients)
    wait_for(lambda: len(fake_baileys.sent) >= 10, 30, what="first sends")
    assert client.simulate_post(f"/api/jobs/{started['job_id']}/pause", headers=business.headers).status_code == 200
    paused = wait_broadcast(client, business, started["broadcast_id"], "paused")
    sent_at_pause = len(fake_baileys.sent)
    assert paused["counts"]["sent"] == sent_at_pause < 40 and paused["counts"]["sending"] == 0
    time.sleep(0.7)
    assert len(fake_baileys.sent) == sent_at_pause  # nothing is sent while paused
    assert client.simulate_post(f"/api/jobs/{started['job_id']}/resume", headers=business.headers).status_code == 202
    done = wait_broadcast(client, business, started["broadcast_id"], "completed")
    assert done["counts"]["sent"] == 40 and done["counts"]["queued"] == 0
    assert per_phone(fake_baileys.attempts) == {phone: 1 for phone in recipients}  # exactly one message each
    assert fake_baileys.duplicate_sends == []
    assert all(s["text"] == "Sale today: 20% off" for s in fake_baileys.sent)
    job = client.simulate_get(f"/api/jobs/{started['job_id']}", headers=business.headers).json
    assert job["progress"] == {"total": 40, "processed": 40, "succeeded": 40, "failed": 0, "percent": 100.0}

    second = start_broadcast(client, business, phones(40, start=1000), message="second")
    wait_for(lambda: len(fake_baileys.sent) >= 45, 30, what="second broadcast sends")
    assert client.simulate_post(f"/api/jobs/{second['job_id']}/cancel", headers=business.headers).status_code == 200
    cancelled = wait_broadcast(client, business, second["broadcast_id"], "cancelled")
    counts = cancelled["counts"]
    assert counts["cancelled"] > 0 and counts["sent"] + counts["cancelled"] == 40 and counts["queued"] == 0
    time.sleep(0.3)
    assert len(fake_baileys.sent) == 40 + counts["sent"]
    job = client.simulate_get(f"/api/jobs/{second['job_id']}", headers=business.headers).json
    assert job["result"]["cancelled"] == counts["cancelled"]


def test_sigkill_mid_broadcast_never_sends_twice_and_marks_the_in_flight_one_unknown(
        client, business, fake_baileys, broadcast_env, worker_factory):
    fake_baileys.delay_seconds = 0.3
    first = worker_factory(queues=QUEUES, env=broadcast_env)
    recipients = phones(30)
    started = start_broadcast(client, business, recipients)
    wait_for(lambda: len(fake_baileys.attempts) >= 5, 30, what="some sends")
    fake_baileys.delay_seconds = 3.0  # the next send stays in flight long enough to be killed during it
    time.sleep(0.4)
    wait_for(lambda: recipient_statuses(started["broadcast_id"])["sending"], 10, interval=0.02,
             what="a send in flight")
    first.kill_group()
    fake_baileys.delay_seconds = 0.0
    worker_factory(queues=QUEUES, env=broadcast_env)
    done = wait_broadcast(client, business, started["broadcast_id"], "completed", timeout=60)
    counts = done["counts"]
    assert counts["unknown"] == 1 and counts["sent"] == 29 and counts["failed"] == 0, (
        counts, dict(recipient_statuses(started["broadcast_id"])), len(fake_baileys.attempts))
    attempts = per_phone(fake_baileys.attempts)
    assert max(attempts.values()) == 1 and fake_baileys.duplicate_sends == []  # nobody got two messages
    by_status = recipient_statuses(started["broadcast_id"])
    delivered = set(per_phone(fake_baileys.sent))
    assert set(by_status["sent"]) <= delivered <= set(by_status["sent"]) | set(by_status["unknown"])
    job = client.simulate_get(f"/api/jobs/{started['job_id']}", headers=business.headers).json
    assert job["attempts"] == 2 and job["progress"]["succeeded"] == counts["sent"]
    assert job["progress"]["failed"] == counts["unknown"] and job["progress"]["processed"] == 30


def test_disconnected_session_sends_nothing_until_it_reconnects(client, business, fake_baileys, broadcast_env,
                                                                 worker_factory):
    fake_baileys.connected[business.id] = False
    worker = worker_factory(queues=QUEUES, env={**broadcast_env, "BROADCAST_RETRY_SECONDS": "0.2"})
    recipients = phones(6)
    started = start_broadcast(client, business, recipients)
    wait_for(lambda: worker.log().count("BROADCAST_WAITING_SESSION") >= 2, 30, what="session checks")
    job = client.simulate_get(f"/api/jobs/{started['job_id']}", headers=business.headers).json
    # A business sees the error's class (and reason), the text only an operator (tests/security/test_tenant_view.py).
    assert job["status"] in ("queued", "running") and job["error_class"] == "SessionNotConnected"
    assert fake_baileys.attempts == []
    assert broadcast(client, business, started["broadcast_id"])["counts"]["queued"] == 6  # no recipient used up
    fake_baileys.fail_next(1, 503)  # and a gateway hiccup after reconnecting: that recipient is retried
    fake_baileys.connected[business.id] = True
    done = wait_broadcast(client, business, started["broadcast_id"], "completed", timeout=30)
    assert done["counts"]["sent"] == 6
    assert per_phone(fake_baileys.sent) == {phone: 1 for phone in recipients}
