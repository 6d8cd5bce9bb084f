"""Finding jobs (GET /api/admin/jobs, keyset pages, the detail) and bulk actions as tracked jobs (POST /api/admin/bulk)."""
from prosaas.jobs import enqueue_tracked
from tests.machinery.helpers import job_row, marker, wait_status
from tests.support import sample_actors
from tests.support.processes import json_of, run_cli, wait_for


def _search(client, headers, **params):
    answer = client.simulate_get("/api/admin/jobs", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json


def _bulk(client, headers, **body):
    return client.simulate_post("/api/admin/bulk", headers=headers, json=body)


def test_search_filters_pages_and_shows_a_failed_job_s_whole_story(worker_factory, client, admin_headers,
                                                                   make_business, redis_marks, clean_queues):
    worker_factory(queues="default,maintenance")
    owner, other = make_business("Search owner"), make_business("Search other")
    bad = marker()
    failing = enqueue_tracked(sample_actors.poison, business_id=owner.id, kwargs={"marker": bad}).job_id
    fine = [enqueue_tracked(sample_actors.record_run, business_id=other.id, kwargs={"marker": marker()}).job_id
            for _ in range(5)]
    wait_status(failing, "failed")
    for job_id in fine:
        wait_status(job_id, "completed")

    found = _search(client, admin_headers, status="failed", q="always FAILS", business_id=owner.id)
    assert [job["id"] for job in found["jobs"]] == [failing] and found["next_before_id"] is None
    assert _search(client, admin_headers, q=failing)["jobs"][0]["id"] == failing
    assert _search(client, admin_headers, type="poison", business_id=other.id)["jobs"] == []

    pages, before = [], None  # keyset pages: no overlap, nothing skipped, newest first
    while True:
        page = _search(client, admin_headers, business_id=other.id, limit=2,
                       **({"before_id": before} if before else {}))
        pages.append([job["id"] for job in page["jobs"]])
        before = page["next_before_id"]
        if before is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1] and sorted(sum(pages, [])) == sorted(fine)
    assert client.simulate_get("/api/admin/jobs", headers=admin_headers,
                               params={"status": "nope"}).status_code == 422
    assert client.simulate_get("/api/admin/jobs", headers=owner.headers).status_code == 403

    detail = client.simulate_get(f"/api/admin/jobs/{failing}", headers=admin_headers)
    assert detail.status_code == 200, detail.text
    story = detail.json
    assert story["args"] == {"marker": bad} and story["status"] == "failed"
    wait_for(lambda: len(client.simulate_get(f"/api/admin/jobs/{failing}", headers=admin_headers).json["attempt_history"])
             == 3, 10, what="three recorded attempts")
    attempts = client.simulate_get(f"/api/admin/jobs/{failing}", headers=admin_headers).json["attempt_history"]
    assert [a["outcome"] for a in attempts] == ["retried", "retried", "failed"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3] and story["attempts"] == 3
    assert all(a["worker"] and a["finished_at"] >= a["started_at"] and "poison job always fails" in a["error"]
               for a in attempts)
    wait_for(lambda: (client.simulate_get(f"/api/admin/jobs/{failing}", headers=admin_headers).json["dead_letter"]
                      or {}).get("job_id") == failing, 10, what="the job's dead letter")
    assert client.simulate_get("/api/admin/jobs/0123abc", headers=admin_headers).status_code == 404

    listed = run_cli("jobs", "list", "--q", "always fails", "--business", str(owner.id), "--json")
    assert [job["id"] for job in json_of(listed)] == [failing]


def test_bulk_actions_preview_then_run_as_tracked_jobs(worker_factory, client, admin_headers, make_business,
                                                       redis_marks, clean_queues):
    worker_factory(queues="default,maintenance")
    owner = make_business("Bulk owner")
    marks = [marker() for _ in range(3)]
    failed = [enqueue_tracked(sample_actors.poison, business_id=owner.id, kwargs={"marker": m}).job_id for m in marks]
    for job_id in failed:
        wait_status(job_id, "failed")
    waiting = [enqueue_tracked(sample_actors.record_run, business_id=owner.id, kwargs={"marker": marker()},
                               queue_name="broadcasts").job_id for _ in range(4)]  # nobody consumes broadcasts

    preview = _bulk(client, admin_headers, action="retry_failed", filter={"business_id": owner.id})
    assert preview.status_code == 200 and preview.json == {"action": "retry_failed", "count": 3}
    assert all(redis_marks.runs(m) == 3 for m in marks)  # a preview changes nothing
    started = _bulk(client, admin_headers, action="retry_failed", filter={"business_id": owner.id}, confirm=True)
    assert started.status_code == 202 and started.json["count"] == 3
    bulk = wait_status(started.json["job_id"], "completed")
    assert (bulk.total, bulk.processed, bulk.succeeded) == (3, 3, 3) and bulk.type == "bulk_action"
    wait_for(lambda: all(redis_marks.runs(m) == 6 for m in marks), 60, what="every failed job to run again")

    cancel = _bulk(client, admin_headers, action="cancel_queued", business_id=owner.id, confirm=True)
    assert cancel.status_code == 202 and cancel.json["count"] == 4
    wait_status(cancel.json["job_id"], "completed")
    assert all(job_row(job_id).status == "cancelled" for job_id in waiting)

    for job_id in failed:
        wait_status(job_id, "failed")
    letters = _bulk(client, admin_headers, action="requeue_dead_letters", queue="default").json["count"]
    assert letters >= 3
    assert _bulk(client, admin_headers, action="requeue_dead_letters").status_code == 422  # needs a queue
    assert _bulk(client, admin_headers, action="retry_failed", filter={"status": "queued"}).status_code == 422
    purge = run_cli("bulk", "purge-dead-letters", "default", "--yes", "--wait")
    assert purge.returncode == 0, purge.stderr
    assert _bulk(client, admin_headers, action="purge_dead_letters", queue="default").json["count"] == 0
    refused = run_cli("bulk", "retry-failed", "--business", str(owner.id))
    assert refused.returncode == 2 and "--yes" in refused.stderr
