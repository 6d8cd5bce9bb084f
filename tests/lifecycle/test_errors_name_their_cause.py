"""Errors that name their cause: unset ADMIN_TOKEN, unset TWILIO_AUTH_TOKEN, unset BAILEYS_URL, malformed JSON."""
import requests

from prosaas.dead_letters import list_dead_letters
from tests.support.processes import start_web, wait_for


def test_admin_endpoints_and_the_twilio_callback_name_the_missing_setting(tmp_logs, business):
    web, base = start_web(tmp_logs, env={"ADMIN_TOKEN": "", "TWILIO_AUTH_TOKEN": ""})
    try:
        health = requests.get(f"{base}/api/jobs/health", headers={"Authorization": "Bearer anything"}, timeout=30)
        assert health.status_code == 401 and "ADMIN_TOKEN is not set" in health.json()["description"]
        callback = requests.post(f"{base}/twilio/recording-status?business_id={business.id}",
                                 data={"RecordingSid": "RE1", "CallSid": "CA1"}, timeout=30)
        assert callback.status_code == 503 and "TWILIO_AUTH_TOKEN" in callback.json()["description"]
        malformed = requests.post(f"{base}/api/diagnostics/ping", data=b'{"steps": 4',
                                  headers={**business.headers, "Content-Type": "application/json"}, timeout=30)
        assert malformed.status_code == 400 and malformed.json()["title"] == "Invalid JSON"
    finally:
        web.stop()


def test_a_broadcast_without_baileys_url_fails_at_once_and_its_dead_letter_says_why(
        tmp_logs, worker_factory, business, runtime, clean_queues, admin_headers):
    web, base = start_web(tmp_logs, env={"BAILEYS_URL": ""})
    try:
        worker_factory(queues="broadcasts", env={"BAILEYS_URL": ""})
        answer = requests.post(f"{base}/api/broadcasts", json={"message": "hi", "recipients": ["+15550001111"]},
                               headers=business.headers, timeout=30)
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["job_id"]
        job = wait_for(lambda: (lambda j: j if j["status"] == "failed" else None)(
            requests.get(f"{base}/api/jobs/{job_id}", headers=business.headers, timeout=30).json()), 60,
            what="the broadcast failed")
        assert job["attempts"] == 1 and job["error_reason"] == "permanent", job
        # The business sees the reason code and error class; the operator sees the cause, named.
        assert "BAILEYS_URL" not in job["error"], job
        detail = requests.get(f"{base}/api/jobs/{job_id}", headers=admin_headers, timeout=30).json()
        assert "BAILEYS_URL" in detail["error"], detail
        letter = wait_for(lambda: [e for e in list_dead_letters(runtime, queue="broadcasts") if e["job_id"] == job_id],
                          30, what="its dead letter")[0]
        assert letter["reason"] == job["error_reason"] and "BAILEYS_URL" in letter["error"], letter
    finally:
        web.stop()
