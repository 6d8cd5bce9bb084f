"""Tracked jobs, retries with dead letters, time limits, retry and resume: through real workers on real Redis.

The same middleware in process (claims, retries, bad input, pause/cancel) is in tests/unit/test_job_tracking.py.
"""
from tests.machinery.helpers import job_row, marker, start_job, wait_status
from tests.support import sample_actors
from tests.support.processes import json_of, run_cli, wait_for


def test_tracked_job_moves_queued_running_completed_with_progress(worker_factory, business, client, make_business):
    m = marker()
    job_id = start_job(sample_actors.batch_counter, business, marker=m, total=10, step_ms=50)
    assert job_row(job_id).status == "queued"
    worker_factory(queues="maintenance")
    seen = []
    def progressed():
        row = job_row(job_id)
        seen.append((row.status, row.processed))
        return row.status == "completed"
    wait_for(progressed, 60, interval=0.05, what="batch completed")
    statuses = [s for s, _ in seen]
    assert "running" in statuses
    processed = [p for _, p in seen]
    assert processed == sorted(processed)  # progress never goes backwards
    body = client.simulate_get(f"/api/jobs/{job_id}", headers=business.headers).json
    assert body["status"] == "completed" and body["progress"]["percent"] == 100.0
    assert body["progress"]["processed"] == 10 and body["attempts"] == 1 and body["finished_at"]
    # Another business sees nothing of it.
    other = make_business()
    assert client.simulate_get(f"/api/jobs/{job_id}", headers=other.headers).status_code == 404
    assert client.simulate_get("/api/jobs", headers=other.headers).json["jobs"] == []


def test_poison_job_ends_in_dead_letters_after_exactly_its_retries(worker_factory, business, redis_marks,
                                                                   client, admin_headers):
    m = marker()
    job_id = start_job(sample_actors.poison, business, marker=m)
    worker_factory(queues="default")
    row = wait_status(job_id, "failed", timeout=60)
    assert redis_marks.runs(m) == 3  # first try + max_retries=2
    assert "poison job always fails" in row.error and row.error_reason == "RuntimeError"
    assert row.attempts == 3
    letters = client.simulate_get("/api/admin/dead-letters", headers=admin_headers).json["dead_letters"]
    mine = [e for e in letters if e["job_id"] == job_id]
    assert len(mine) == 1 and mine[0]["reason"] == "retries_exhausted" and mine[0]["attempts"] == 3
    listed = json_of(run_cli("dlq", "list", "--json"))
    assert any(e["job_id"] == job_id for e in listed)

    # Requeue from the dead-letter queue: the job runs again with a fresh retry budget.
    answer = client.simulate_post(f"/api/admin/dead-letters/{mine[0]['message_id']}/requeue", headers=admin_headers)
    assert answer.status_code == 202, answer.text
    wait_for(lambda: redis_marks.runs(m) == 6, 60, what="requeued job to run its retries again")
    wait_status(job_id, "failed", timeout=30)
    # Business keys never open admin endpoints.
    assert client.simulate_get("/api/admin/dead-letters", headers=business.headers).status_code == 403


def test_job_over_its_time_limit_is_stopped_and_retried_per_policy(worker_factory, business, redis_marks):
    m = marker()
    job_id = start_job(sample_actors.overrun, business, marker=m, seconds=30)
    worker_factory(queues="default")
    row = wait_status(job_id, "failed", timeout=60)
    assert redis_marks.runs(m) == 2  # max_retries=1
    assert redis_marks.finished(m) == 0  # never ran to the end
    assert row.error_reason == "time_limit"


def test_retry_endpoint_requeues_a_failed_job(worker_factory, business, client, redis_marks):
    m = marker()
    job_id = start_job(sample_actors.bad_input_job, business, marker=m)
    worker_factory(queues="default")
    wait_status(job_id, "failed", timeout=30)
    answer = client.simulate_post(f"/api/jobs/{job_id}/retry", headers=business.headers)
    assert answer.status_code == 202 and answer.json["status"] == "queued"
    wait_for(lambda: redis_marks.runs(m) == 2, 30, what="retried job ran")
    wait_status(job_id, "failed", timeout=30)
    assert client.simulate_post(f"/api/jobs/{job_id}/pause", headers=business.headers).status_code == 409


def test_a_paused_batch_job_resumes_from_its_cursor(worker_factory, business, client, redis_marks):
    """Pause and cancel themselves are in tests/unit/test_job_tracking.py; resuming needs the real broker."""
    m = marker()
    job_id = start_job(sample_actors.batch_counter, business, marker=m, total=40, step_ms=100)
    worker_factory(queues="maintenance")
    wait_for(lambda: job_row(job_id).processed >= 3, 30, what="batch progress")
    assert client.simulate_post(f"/api/jobs/{job_id}/pause", headers=business.headers).status_code == 200
    row = wait_status(job_id, "paused", timeout=30)
    assert 3 <= row.processed < 40
    answer = client.simulate_post(f"/api/jobs/{job_id}/resume", headers=business.headers)
    assert answer.status_code == 202
    row = wait_status(job_id, "completed", timeout=60)
    items = [int(i) for i in sample_actors._redis().lrange(redis_marks.key("items", m), 0, -1)]
    assert sorted(items) == list(range(40)) and len(items) == 40  # resumed from its cursor, nothing twice


def test_second_batch_job_returns_the_active_one(business):
    first = start_job(sample_actors.batch_counter, business, marker=marker(), total=5)
    second = start_job(sample_actors.batch_counter, business, marker=marker(), total=5)
    assert first == second
