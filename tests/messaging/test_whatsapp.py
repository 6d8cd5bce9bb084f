"""POST /whatsapp/webhook → a tracked job that stores each message once and sends one reply through Baileys."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from db.base import utcnow
from db.models.core import BackgroundJob
from db.models.messaging import WhatsAppConversation, WhatsAppMessage
from tests.messaging.conftest import post_webhook, sign, wait_job


def _jobs_of(runtime, business_id):
    with runtime.database.session() as session:
        return session.scalar(select(func.count()).select_from(BackgroundJob)
                              .where(BackgroundJob.business_id == business_id))


def _messages(runtime, business_id):
    with runtime.database.session() as session:
        return list(session.scalars(select(WhatsAppMessage).where(WhatsAppMessage.business_id == business_id)
                                    .order_by(WhatsAppMessage.id)))


def test_bad_signature_or_malformed_body_enqueues_nothing(client, business, runtime):
    payload = {"business_id": business.id, "messages": [{"id": "M1", "from": "972500000001@s.whatsapp.net",
                                                         "text": "hi", "timestamp": 1700000000}]}
    assert post_webhook(client, payload, signature="sha256=" + "0" * 64).status_code == 401
    missing = client.simulate_post("/whatsapp/webhook", json=payload)
    assert missing.status_code == 401 and missing.json["title"] == "Bad signature"
    # Signed with another secret.
    import json as _json
    body = _json.dumps(payload).encode()
    assert post_webhook(client, payload, signature=sign(body, "not-the-secret")).status_code == 401
    # Correctly signed but malformed.
    for bad in (b"not json", b'{"business_id": "x", "messages": []}', b'{"business_id": 1}',
                _json.dumps({"business_id": business.id, "messages": [{"from": "x"}]}).encode()):
        answer = client.simulate_post("/whatsapp/webhook", body=bad, headers={"X-Signature": sign(bad)})
        assert answer.status_code == 422, (bad, answer.text)
    unknown = {"business_id": 987654, "messages": payload["messages"]}
    assert post_webhook(client, unknown).status_code == 404
    assert _jobs_of(runtime, business.id) == 0


def test_same_webhook_twice_stores_one_message_and_sends_one_reply(client, business, runtime, fake_baileys,
                                                                   messaging_worker):
    customer = "972500000002@s.whatsapp.net"
    payload = {"business_id": business.id, "messages": [
        {"id": "WA-1", "from": customer, "text": "Hello, what are your opening hours?", "timestamp": 1763900000},
        {"id": "WA-own", "from": customer, "text": "sent from the phone", "fromMe": True},
        {"id": "WA-group", "from": "120363000000000001@g.us", "text": "group chatter"},
        {"id": "WA-status", "from": "status@broadcast", "text": "a status"},
        {"id": "WA-news", "from": "120363000000000002@newsletter", "text": "a newsletter"},
    ]}
    first = post_webhook(client, payload)
    assert first.status_code == 202 and first.json["job_id"]
    first_job = wait_job(runtime, first.json["job_id"])
    assert first_job.status == "completed", first_job.error
    # Baileys redelivers the message in another webhook (the identical body is a replay: tests/security).
    second = post_webhook(client, {**payload, "messages": payload["messages"][:1]})
    second_job = wait_job(runtime, second.json["job_id"])
    assert second_job.status == "completed", second_job.error

    rows = _messages(runtime, business.id)
    assert [(m.message_id, m.direction, m.status) for m in rows] == [("WA-1", "in", "received"),
                                                                     ("reply:WA-1", "out", "sent")]
    sent = [s for s in fake_baileys.snapshot() if s["business_id"] == business.id]
    assert len(sent) == 1 and sent[0]["to"] == customer and sent[0]["text"] == rows[1].text
    assert rows[1].provider_id == sent[0]["id"]
    assert first_job.result["stored"] == 1 and first_job.result["replied"] == 1 and first_job.result["ignored"] == 4
    assert second_job.result["duplicates"] == 1 and second_job.result["replied"] == 0
    with runtime.database.session() as session:
        conversation = session.get(WhatsAppConversation, rows[0].conversation_id)
        assert conversation.status == "open" and conversation.customer == customer


def test_reply_is_retried_on_5xx_and_sent_once(client, business, runtime, fake_baileys, messaging_worker):
    customer = "972500000003@s.whatsapp.net"
    fake_baileys.fail_next(1, status=503)
    answer = post_webhook(client, {"business_id": business.id,
                                   "messages": [{"id": "WA-5xx", "from": customer, "text": "price?"}]})
    job = wait_job(runtime, answer.json["job_id"], timeout=60)
    assert job.status == "completed" and job.attempts == 2, (job.status, job.attempts, job.error)
    assert len(fake_baileys.sent_to(customer)) == 1
    reply = _messages(runtime, business.id)[-1]
    assert reply.status == "sent" and reply.provider_id == fake_baileys.sent_to(customer)[0]["id"]


def test_reply_refused_with_4xx_fails_at_once_and_is_not_retried(client, business, runtime, fake_baileys,
                                                                 messaging_worker):
    customer = "972500000004@s.whatsapp.net"
    fake_baileys.fail_next(1, status=400)
    before = len(fake_baileys.attempts)
    answer = post_webhook(client, {"business_id": business.id,
                                   "messages": [{"id": "WA-4xx", "from": customer, "text": "hi"}]})
    job = wait_job(runtime, answer.json["job_id"])
    assert job.status == "failed" and job.attempts == 1 and "400" in job.error
    assert len(fake_baileys.attempts) == before + 1 and fake_baileys.sent_to(customer) == []
    reply = _messages(runtime, business.id)[-1]
    assert reply.status == "failed" and reply.provider_id is None


def test_idle_conversations_are_closed_with_a_summary(client, business, runtime, fake_baileys, messaging_worker):
    from actors.whatsapp_work import close_idle_conversations
    from prosaas.clients.responder import Responder

    customer = "972500000005@s.whatsapp.net"
    answer = post_webhook(client, {"business_id": business.id,
                                   "messages": [{"id": "WA-idle", "from": customer, "text": "שלום, מה המחיר?"}]})
    assert wait_job(runtime, answer.json["job_id"]).status == "completed"
    assert close_idle_conversations(runtime.database, Responder(), now=utcnow())["closed"] == 0  # not idle yet
    counts = close_idle_conversations(runtime.database, Responder(), now=utcnow() + dt.timedelta(minutes=6))
    assert counts["closed"] >= 1
    with runtime.database.session() as session:
        conversation = session.scalars(select(WhatsAppConversation).where(
            WhatsAppConversation.business_id == business.id, WhatsAppConversation.customer == customer)).one()
        assert conversation.status == "closed" and "1 message(s) from the customer" in conversation.summary
    # The customer writes again: a new conversation opens.
    again = post_webhook(client, {"business_id": business.id,
                                  "messages": [{"id": "WA-idle-2", "from": customer, "text": "hello?"}]})
    assert wait_job(runtime, again.json["job_id"]).status == "completed"
    with runtime.database.session() as session:
        states = sorted(c.status for c in session.scalars(select(WhatsAppConversation).where(
            WhatsAppConversation.business_id == business.id, WhatsAppConversation.customer == customer)))
    assert states == ["closed", "open"]
