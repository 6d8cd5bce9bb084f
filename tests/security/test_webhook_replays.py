"""#12.13 WhatsApp webhook replays: a signed body accepted once is answered 202 again without a new job."""
from __future__ import annotations

from sqlalchemy import func, select

from db.models.core import BackgroundJob
from tests.messaging.conftest import post_webhook


def _jobs(runtime, business_id: int) -> int:
    with runtime.database.session() as session:
        return session.scalar(select(func.count()).select_from(BackgroundJob)
                              .where(BackgroundJob.business_id == business_id,
                                     BackgroundJob.type == "whatsapp_webhook"))


def test_a_replayed_signed_body_is_answered_without_a_second_job(client, business, runtime, clean_queues):
    payload = {"business_id": business.id, "messages": [
        {"id": "WA-replay-1", "from": "972500000077@s.whatsapp.net", "text": "hi", "timestamp": 1763900000}]}
    first = post_webhook(client, payload)
    assert first.status_code == 202 and first.json["job_id"]
    for _ in range(3):
        again = post_webhook(client, payload)
        assert again.status_code == 202 and again.json == first.json
    assert _jobs(runtime, business.id) == 1
    digests = list(runtime.redis.scan_iter(match=runtime.keys("whatsapp", "seen", "*")))
    assert digests and 0 < runtime.redis.ttl(digests[0]) <= 24 * 3600
    # Another body (a new message) is a new job.
    payload["messages"][0]["id"] = "WA-replay-2"
    assert post_webhook(client, payload).json["job_id"] != first.json["job_id"]
    assert _jobs(runtime, business.id) == 2
