"""Receipt deletion through real workers, real Redis, the run's database and a real S3 server (moto)."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from db.models.batch import Receipt
from prosaas.runtime import get_runtime
from tests.batch.conftest import BUCKET
from tests.support.processes import wait_for

QUEUES = "maintenance,broadcasts"


def rows_of(business_id: int) -> int:
    with get_runtime().database.session() as session:
        return session.scalar(select(func.count()).select_from(Receipt).where(Receipt.business_id == business_id))


def files_of(s3, business_id: int) -> int:
    return len(s3.keys(BUCKET, f"receipts/{business_id}/"))


def start_delete(client, business, body=None) -> str:
    answer = client.simulate_post("/api/receipts/delete", json=body or {"all": True}, headers=business.headers)
    assert answer.status_code == 202, answer.text
    return answer.json["job_id"]


def job(client, business, job_id) -> dict:
    return client.simulate_get(f"/api/jobs/{job_id}", headers=business.headers).json


def wait_job(client, business, job_id, *statuses, timeout=60, seen=None) -> dict:
    def check():
        body = job(client, business, job_id)
        if seen is not None:
            seen.append(body)
        return body if body["status"] in statuses else None
    return wait_for(check, timeout, interval=0.05, what=f"job {job_id} to be {'/'.join(statuses)}")


def test_delete_all_of_1000_receipts_with_monotonic_progress_other_business_untouched(
        client, make_business, seed_receipts, s3, s3_proxy, s3_worker_env, worker_factory):
    mine, theirs = make_business(), make_business()
    seed_receipts(mine.id, 1000)
    seed_receipts(theirs.id, 60)
    job_id = start_delete(client, mine)
    assert start_delete(client, mine) == job_id  # a second delete-all returns the active job
    s3_proxy.latency = 0.01
    worker = worker_factory(queues=QUEUES, env=s3_worker_env)
    seen = []
    done = wait_job(client, mine, job_id, "completed", "failed", timeout=90, seen=seen)
    assert done["status"] == "completed", done
    percents = [body["progress"]["percent"] for body in seen]
    processed = [body["progress"]["processed"] for body in seen]
    assert percents == sorted(percents) and processed == sorted(processed)  # never backwards
    assert len(set(processed)) > 3  # progress was visible while it ran
    assert done["progress"] == {"total": 1000, "processed": 1000, "succeeded": 1000, "failed": 0, "percent": 100.0}
    result = done["result"]
    assert result["deleted"] == 1000 and result["storage_deleted"] == 1000
    assert result["failed"] == 0 and result["storage_failed"] == 0 and result["failed_ids"] == []
    assert rows_of(mine.id) == 0 and files_of(s3, mine.id) == 0
    assert rows_of(theirs.id) == 60 and files_of(s3, theirs.id) == 60  # another business's receipts untouched
    log = worker.log()
    assert log.count("RECEIPTS_DELETE batch ids=") == 20 and "progress=1000/1000" in log
    # Each batch line: that batch's row and stored-file counts, and the percent done (the runbooks' `x%`).
    assert "count=50 deleted=50 failed=0 storage_deleted=50 storage_failed=0 progress=50/1000 percent=5.0 " in log
    assert "progress=1000/1000 percent=100.0 " in log
    assert start_delete(client, mine) != job_id  # finished: a new request makes a new job


def test_pause_stops_progress_until_resume_then_cancel_stops_between_batches(
        client, business, seed_receipts, s3, s3_proxy, s3_worker_env, worker_factory):
    seed_receipts(business.id, 400)
    s3_proxy.latency = 0.15
    worker_factory(queues=QUEUES, env=s3_worker_env)
    job_id = start_delete(client, business)
    wait_for(lambda: job(client, business, job_id)["progress"]["processed"] >= 100, 60, what="progress")
    assert client.simulate_post(f"/api/jobs/{job_id}/pause", headers=business.headers).status_code == 200
    paused = wait_job(client, business, job_id, "paused", timeout=30)
    stopped_at = paused["progress"]["processed"]
    assert 100 <= stopped_at < 400 and stopped_at % 50 == 0  # stopped between batches
    time.sleep(0.6)
    still = job(client, business, job_id)
    assert still["status"] == "paused" and still["progress"]["processed"] == stopped_at
    assert rows_of(business.id) == 400 - stopped_at == files_of(s3, business.id)
    assert client.simulate_post(f"/api/jobs/{job_id}/resume", headers=business.headers).status_code == 202
    done = wait_job(client, business, job_id, "completed", "failed", timeout=60)
    assert done["status"] == "completed" and done["progress"]["succeeded"] == 400
    assert done["result"]["storage_deleted"] == 400 and rows_of(business.id) == 0 == files_of(s3, business.id)

    seed_receipts(business.id, 400)
    job_id = start_delete(client, business)
    wait_for(lambda: job(client, business, job_id)["progress"]["processed"] >= 100, 60, what="progress")
    assert client.simulate_post(f"/api/jobs/{job_id}/cancel", headers=business.headers).status_code == 200
    cancelled = wait_job(client, business, job_id, "cancelled", timeout=30)
    stopped_at = cancelled["progress"]["processed"]
    assert 100 <= stopped_at < 400 and stopped_at % 50 == 0 and cancelled["finished_at"]
    time.sleep(0.5)
    assert job(client, business, job_id)["progress"]["processed"] == stopped_at
    assert rows_of(business.id) == 400 - stopped_at == files_of(s3, business.id)  # no row without its file


def test_storage_outage_backs_off_and_recovers(client, business, seed_receipts, s3, s3_proxy, s3_worker_env,
                                               worker_factory):
    seed_receipts(business.id, 300)
    s3_proxy.latency = 0.05
    worker = worker_factory(queues=QUEUES, env=s3_worker_env)
    job_id = start_delete(client, business)
    wait_for(lambda: job(client, business, job_id)["progress"]["processed"] >= 50, 60, what="progress")
    s3_proxy.down()
    wait_for(lambda: worker.log().count("RECEIPTS_DELETE backoff") >= 3, 30, what="backoff attempts")
    during = job(client, business, job_id)
    assert during["status"] == "running"
    time.sleep(0.5)
    assert job(client, business, job_id)["progress"]["processed"] == during["progress"]["processed"]
    s3_proxy.up()
    done = wait_job(client, business, job_id, "completed", "failed", timeout=60)
    assert done["status"] == "completed", done
    assert done["progress"]["succeeded"] == 300 and done["progress"]["failed"] == 0 and done["attempts"] == 1
    assert rows_of(business.id) == 0 == files_of(s3, business.id)
    log = worker.log()
    delays = [float(line.split("delay_s=")[1].split()[0])
              for line in log.splitlines() if "RECEIPTS_DELETE backoff" in line]
    assert delays[:3] == [0.2, 0.4, 0.8]  # 2 -> 4 -> 8 s at the production base of 2 s
    assert "RECEIPTS_DELETE recovered" in log


def test_sigkill_mid_run_then_a_new_worker_finishes_with_exact_counts(
        client, business, seed_receipts, s3, s3_proxy, s3_worker_env, worker_factory):
    seed_receipts(business.id, 1000)
    s3_proxy.latency = 0.1
    first = worker_factory(queues=QUEUES, env=s3_worker_env)
    job_id = start_delete(client, business)
    wait_for(lambda: job(client, business, job_id)["progress"]["processed"] >= 200, 60, what="progress")
    first.kill_group()
    at_kill = job(client, business, job_id)
    assert at_kill["status"] == "running" and at_kill["progress"]["processed"] < 1000
    s3_proxy.latency = 0.0
    worker_factory(queues=QUEUES, env=s3_worker_env)
    done = wait_job(client, business, job_id, "completed", "failed", timeout=90)
    assert done["status"] == "completed", done
    assert done["attempts"] == 2
    assert done["progress"] == {"total": 1000, "processed": 1000, "succeeded": 1000, "failed": 0, "percent": 100.0}
    assert done["result"]["deleted"] == 1000 and done["result"]["storage_deleted"] == 1000
    assert rows_of(business.id) == 0 == files_of(s3, business.id)


def test_chosen_ids_only_and_a_file_that_cannot_be_deleted_keeps_its_row(client, make_business, runtime,
                                                                          worker_factory):
    """Default file:// storage: one receipt's stored object is a directory, which cannot be unlinked."""
    import datetime as dt
    from decimal import Decimal

    from db import receipts_store
    from prosaas.clients import storage

    store = storage.from_settings(get_runtime().settings)
    mine, theirs = make_business(), make_business()
    ids = {}
    for owner in (mine, theirs):
        rows = []
        for index in range(120 if owner is mine else 5):
            key = f"receipts/{owner.id}/{index:04d}.pdf"
            if owner is mine and index == 7:
                (store.root / key / "inner").mkdir(parents=True)  # undeletable "file"
            else:
                store.put(key, b"%PDF-1.4 x", "application/pdf")
            rows.append(dict(business_id=owner.id, vendor="V", amount=Decimal("1.00"), currency="USD",
                             issued_at=dt.date(2026, 1, 1), storage_key=key, content_type="application/pdf",
                             size_bytes=10))
        with runtime.database.session() as session:
            receipts_store.add_receipts(session, rows)
            ids[owner.id] = [r.id for r in receipts_store.list_receipts(session, owner.id, limit=200)][::-1]
    chosen = ids[mine.id][:80]
    stuck = ids[mine.id][7]
    job_id = start_delete(client, mine, {"ids": chosen + ids[theirs.id][:2] + [10**9]})
    worker = worker_factory(queues=QUEUES, env={"RECEIPTS_BACKOFF_BASE_SECONDS": "0.2"})
    done = wait_job(client, mine, job_id, "completed", "failed", timeout=60)
    assert done["status"] == "completed", done
    assert done["progress"] == {"total": 80, "processed": 80, "succeeded": 79, "failed": 1, "percent": 100.0}
    assert done["result"]["storage_failed"] == 1 and done["result"]["failed_ids"] == [stuck]
    with runtime.database.session() as session:
        left = [r.id for r in receipts_store.list_receipts(session, mine.id, limit=200)][::-1]
    assert left == [stuck] + ids[mine.id][80:]  # the refused one keeps its row; unchosen ones untouched
    assert rows_of(theirs.id) == 5
    assert "storage_failed receipt_id=%d" % stuck in worker.log()
    assert "count=50 deleted=49 failed=1 storage_deleted=49 storage_failed=1 progress=50/80 percent=62.5 " in worker.log()


def test_a_store_that_refuses_the_deletes_fails_the_job_at_once_with_the_cause(
        client, business, seed_receipts, s3, s3_worker_env, worker_factory, admin_headers):
    seed_receipts(business.id, 10)
    job_id = start_delete(client, business)
    worker_factory(queues=QUEUES, env={**s3_worker_env, "STORAGE_URL": "s3://no-such-bucket-here"})
    done = wait_job(client, business, job_id, "failed", "completed", timeout=30)
    assert done["status"] == "failed" and done["error_class"] and done["attempts"] == 1
    # The cause is the operator's to read; the business sees the error's class (tests/security/test_tenant_view.py).
    assert "NoSuchBucket" in client.simulate_get(f"/api/jobs/{job_id}", headers=admin_headers).json["error"]
    assert rows_of(business.id) == 10 == files_of(s3, business.id)  # nothing half-deleted


def test_end_to_end_upload_through_the_web_role_into_s3_then_delete(business, tmp_logs, s3, s3_worker_env,
                                                                     worker_factory):
    """The real roles (gunicorn web + worker) configured with STORAGE_URL=s3://…, over real HTTP."""
    import requests

    from tests.support.processes import start_web

    web, base = start_web(tmp_logs, env=s3_worker_env)
    try:
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128
        answer = requests.post(f"{base}/api/receipts", headers=business.headers, timeout=10,
                               files={"file": ("r.png", png, "image/png")},
                               data={"vendor": "Rami Levy", "amount": "45.90", "currency": "ILS",
                                     "issued_at": "2026-11-20"})
        assert answer.status_code == 201, answer.text
        receipt_id = answer.json()["id"]
        [key] = s3.keys(BUCKET, f"receipts/{business.id}/")
        assert s3.client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == png
        listed = requests.get(f"{base}/api/receipts", headers=business.headers, timeout=10).json()
        assert [r["id"] for r in listed["receipts"]] == [receipt_id]
        worker_factory(queues=QUEUES, env=s3_worker_env)
        answer = requests.post(f"{base}/api/receipts/delete", json={"ids": [receipt_id]}, headers=business.headers,
                               timeout=10)
        assert answer.status_code == 202
        job_id = answer.json()["job_id"]
        done = wait_for(lambda: (lambda body: body if body["status"] in ("completed", "failed") else None)(
            requests.get(f"{base}/api/jobs/{job_id}", headers=business.headers, timeout=10).json()), 30,
            what="deletion job")
        assert done["status"] == "completed" and done["result"]["deleted"] == 1
        assert s3.keys(BUCKET, f"receipts/{business.id}/") == [] and rows_of(business.id) == 0
    finally:
        web.stop()


def test_a_deletion_longer_than_its_time_limit_hands_itself_on_and_completes_with_exact_counts(
        client, business, seed_receipts, s3, s3_proxy, s3_worker_env, worker_factory):
    """A 3-second time limit and 2,000 receipts: continuation messages, never a kill, never `failed`."""
    seed_receipts(business.id, 2000)
    s3_proxy.latency = 0.1  # each batch's storage round trip: the whole job needs well over 3 s
    job_id = start_delete(client, business)
    worker = worker_factory(queues=QUEUES, env={**s3_worker_env, "RECEIPTS_DELETE_TIME_LIMIT_SECONDS": "3"})
    seen = []
    done = wait_job(client, business, job_id, "completed", "failed", timeout=180, seen=seen)
    trouble = "\n".join(line for line in worker.log().splitlines()
                         if any(word in line for word in ("ERROR", "WARNING", "Traceback", "Error", "RETRY", "handed_on")))
    assert done["status"] == "completed", (done, trouble)
    assert done["progress"] == {"total": 2000, "processed": 2000, "succeeded": 2000, "failed": 0, "percent": 100.0}
    assert done["result"]["deleted"] == 2000 and done["result"]["storage_deleted"] == 2000
    errors_seen = [body["error"] for body in seen if body["error"]]
    assert done["error"] is None and done["attempts"] == 1, (errors_seen[:1], trouble)  # handing on is not a retry
    assert "failed" not in {body["status"] for body in seen} and not any(body["error"] for body in seen)
    processed = [body["progress"]["processed"] for body in seen]
    assert processed == sorted(processed)  # progress uninterrupted, never backwards
    assert rows_of(business.id) == 0 == files_of(s3, business.id)
    log = worker.log()
    assert log.count("RECEIPTS_DELETE handed_on") >= 1 and log.count("JOB_HANDED_ON job_id=" + job_id) >= 1
    assert "TimeLimitExceeded" not in log and "time_limit" not in log
    assert log.count("RECEIPTS_DELETE batch ids=") == 40  # each batch exactly once across the continuations


def test_the_deletion_actor_is_killed_past_its_limit_and_retried_three_times():
    from actors.receipts import DELETE_TIME_LIMIT_MS, delete_receipts

    assert DELETE_TIME_LIMIT_MS == 30 * 60 * 1000 and delete_receipts.options["time_limit"] == DELETE_TIME_LIMIT_MS
    assert delete_receipts.options["max_retries"] == 3  # then `failed` with reason time_limit
