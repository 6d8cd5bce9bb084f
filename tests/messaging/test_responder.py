"""The HTTP responder (RESPONDER_URL): replies and conversation summaries come from the provider."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from actors.whatsapp import whatsapp_sessions_cleanup
from db.base import utcnow
from db.models.messaging import WhatsAppConversation
from tests.messaging.conftest import post_webhook, wait_job
from tests.support.local_http import LocalHTTPServer, QuietHandler
from tests.support.processes import start_worker, wait_for


class FakeResponder(LocalHTTPServer):
    name = "fake-responder"

    def __init__(self):
        self.requests: list[tuple[str, dict, str]] = []
        super().__init__()

    def _handler_class(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = json.loads(self.read_body())
                fake.requests.append((self.path, body, self.headers.get("Authorization")))
                if self.path == "/reply":
                    answer = {"reply": f"AI answer to: {body['text']}"}
                else:
                    answer = {"summary": f"AI summary of {len(body['messages'])} messages"}
                self.answer(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
        return Handler


@pytest.fixture(scope="module")
def responder_worker(tmp_path_factory, fake_baileys, broker):
    with FakeResponder() as responder:
        role = start_worker(tmp_path_factory.mktemp("responder-worker"), queues="default,low", modules=(),
                            greenlets=4, name="responder-worker",
                            env={"BAILEYS_URL": fake_baileys.url, "RESPONDER_URL": responder.url,
                                 "RESPONDER_API_KEY": "responder-key"})
        yield responder
        role.stop(timeout=30)


def test_reply_and_summary_come_from_the_http_responder(client, business, runtime, fake_baileys, responder_worker):
    customer = "972500000009@s.whatsapp.net"
    answer = post_webhook(client, {"business_id": business.id,
                                   "messages": [{"id": "WA-ai", "from": customer, "text": "Do you open on Friday?"}]})
    assert wait_job(runtime, answer.json["job_id"]).status == "completed"
    [sent] = fake_baileys.sent_to(customer)
    assert sent["text"] == "AI answer to: Do you open on Friday?"
    path, body, auth = responder_worker.requests[0]
    assert path == "/reply" and body["business_id"] == business.id and auth == "Bearer responder-key"

    with runtime.database.session() as session:  # let the conversation go idle
        session.execute(update(WhatsAppConversation).where(WhatsAppConversation.business_id == business.id)
                        .values(last_customer_message_at=utcnow() - dt.timedelta(minutes=6)))
    whatsapp_sessions_cleanup.send()

    def closed():
        with runtime.database.session() as session:
            return session.scalars(select(WhatsAppConversation).where(
                WhatsAppConversation.business_id == business.id, WhatsAppConversation.status == "closed")).first()
    conversation = wait_for(closed, 20, what="the idle conversation to close")
    assert conversation.summary == "AI summary of 2 messages"
