"""#12.8 Personal data in logs: a WhatsApp reply that fails (Baileys answering errors) through real web and
worker processes; no line of any role's output may hold the message's text or phone number (job arguments).
"""
from __future__ import annotations

import json
import secrets

import requests

from tests.messaging.conftest import sign, wait_job
from tests.support.fake_baileys import FakeBaileys
from tests.support.processes import start_web


def test_a_failing_whatsapp_reply_leaves_no_job_argument_in_any_log(tmp_logs, worker_factory, business, runtime,
                                                                     clean_queues):
    marker = f"MARKER{secrets.token_hex(6)}"
    phone = f"97250{secrets.randbelow(10**7):07d}"
    with FakeBaileys() as baileys:
        baileys.fail_next(1, 503)  # a retry first (Retries' lines), then a refusal that fails the job
        baileys.fail_next(1, 400)
        # DEBUG: Dramatiq's "Received message …" lines too.
        worker = worker_factory(queues="default", modules=(), greenlets=4,
                                env={"BAILEYS_URL": baileys.url, "LOG_LEVEL": "DEBUG"})
        web, base = start_web(tmp_logs)
        try:
            body = json.dumps({"business_id": business.id, "messages": [
                {"id": f"WA-{secrets.token_hex(4)}", "from": f"{phone}@s.whatsapp.net", "text": f"hello {marker} please call me",
                 "timestamp": 1763900000}]}).encode()
            answer = requests.post(f"{base}/whatsapp/webhook", data=body, timeout=10,
                                   headers={"Content-Type": "application/json", "X-Signature": sign(body)})
            assert answer.status_code == 202, answer.text
            job = wait_job(runtime, answer.json()["job_id"], timeout=60)
            assert job.status == "failed" and job.attempts == 2, (job.status, job.attempts, job.error)
        finally:
            web.stop()
        assert len(baileys.attempts) == 2
    worker_log = worker.log()
    assert "Failed to process message" in worker_log
    for name, text in (("worker", worker_log), ("web", web.log())):
        for secret in (marker[len("MARKER"):], phone):
            leaked = [line for line in text.splitlines() if secret in line]
            assert not leaked, f"{name} log holds a job argument:\n" + "\n".join(leaked[:5])
    assert "whatsapp_webhook(message_id=" in worker_log  # the message, named by its ids
