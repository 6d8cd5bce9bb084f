"""End to end: real web (gunicorn+gevent), worker and scheduler processes; a business made with the CLI."""
import pytest
import requests

from tests.support.processes import json_of, run_cli, start_scheduler, start_web, wait_for

pytestmark = pytest.mark.e2e


def test_job_goes_from_enqueued_to_done_through_http(tmp_logs, worker_factory, admin_headers):
    web, base = start_web(tmp_logs)
    scheduler = start_scheduler(tmp_logs)
    try:
        worker = worker_factory(queues="default,high", processes=1)
        created = json_of(run_cli("business", "create", "E2E Ltd", "--json"))
        assert set(created) == {"business_id", "api_key", "recording_status_callback"}
        assert isinstance(created["business_id"], int)
        headers = {"Authorization": f"Bearer {created['api_key']}"}

        answer = requests.post(f"{base}/api/diagnostics/ping", json={"steps": 4, "step_ms": 100}, headers=headers)
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["job_id"]
        job = wait_for(lambda: (lambda j: j if j["status"] == "completed" else None)(
            requests.get(f"{base}/api/jobs/{job_id}", headers=headers).json()), 30, what="job completed")
        assert job["progress"] == {"total": 4, "processed": 4, "succeeded": 4, "failed": 0, "percent": 100.0}
        assert job["attempts"] == 1 and job["business_id"] == created["business_id"]
        assert "value has been discarded" not in worker.log()  # a tracked job's result is its row's
        for field in ("created_at", "started_at", "finished_at", "heartbeat_at", "error", "type"):
            assert field in job

        config = requests.get(f"{base}/api/jobs/worker/config", headers=admin_headers).json()
        assert "default" in {q for w in config["workers"] for q in w["queues"]}
        assert "recordings" in config["queues_without_consumer"]
        health = requests.get(f"{base}/api/jobs/health", headers=admin_headers).json()
        assert health["database"]["ok"] and health["broker"]["ok"]
        assert health["scheduler"]["alive"]
        # A business key never opens ops endpoints.
        assert requests.get(f"{base}/api/jobs/health", headers=headers).status_code == 403
    finally:
        scheduler.stop()
        web.stop()
