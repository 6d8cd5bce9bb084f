"""enqueue_tracked_or_undo: a domain row whose job cannot start is taken back, and the caller answers 503.

A real web role whose Redis is a closed port (the database is the real one): a broadcast is written, its job
cannot be sent, the broadcast is discarded and the request gets the broker's 503.
"""
from __future__ import annotations

import requests
from sqlalchemy import func, select

from db.models.core import BackgroundJob, JobStatus
from db.models.batch import Broadcast
from tests.support.processes import RoleProcess, free_port, wait_for


def test_broker_down_undoes_the_broadcast_and_answers_503(runtime, business, tmp_logs):
    port = free_port()
    web = RoleProcess(["web"], tmp_logs / "web-no-redis.log",
                      {"PROSAAS_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": "1",
                       "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{base}/healthz", timeout=2).status_code == 200, 60, what="web")
        answer = requests.post(f"{base}/api/broadcasts", json={"message": "hi", "recipients": ["+972500000001"]},
                               headers=business.headers, timeout=30)
    finally:
        web.stop()
    assert answer.status_code == 503, answer.text
    assert "broker" in answer.text.lower()
    with runtime.database.session() as session:
        broadcasts = session.scalar(select(func.count()).select_from(Broadcast)
                                    .where(Broadcast.business_id == business.id))
        jobs = list(session.scalars(select(BackgroundJob).where(BackgroundJob.business_id == business.id)))
    assert broadcasts == 0  # undone: no broadcast waits for a job that was never sent
    assert [(job.status, job.error_reason) for job in jobs] == [(JobStatus.FAILED, "broker_unavailable")]
