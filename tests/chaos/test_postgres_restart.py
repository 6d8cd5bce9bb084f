"""Chaos: restart a PRIVATE PostgreSQL under web and worker: jobs fail, retry, complete; the API says 503."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from db import Database
from db.businesses import create_business
from db.migrate import run_migrations
from tests.chaos.helpers import Poster, all_completed, report, rows
from tests.support.private_servers import PrivatePostgres, postgres_bin_dir
from tests.support.processes import start_web, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.e2e,
              pytest.mark.skipif(postgres_bin_dir() is None, reason="no PostgreSQL server binaries")]


def test_postgres_restart_jobs_retry_and_complete_api_answers_503(tmp_logs, worker_factory, tmp_path):
    postgres = PrivatePostgres().start()
    url = postgres.create_database("prosaas_chaos")
    run_migrations(url, lock_dir=tmp_path)
    database = Database(url)
    with database.session() as session:
        business, key = create_business(session, "Chaos business")
    headers = {"Authorization": f"Bearer {key}"}
    env = {"DATABASE_URL": url}
    web, base = start_web(tmp_logs, env=env)
    worker = worker_factory(queues="default", processes=1, greenlets=8, env=env)
    poster = None
    try:
        queued = []
        for _ in range(60):  # jobs that write progress to the database while they run
            response = requests.post(f"{base}/api/diagnostics/ping", json={"steps": 4, "step_ms": 100},
                                     headers=headers, timeout=10)
            assert response.status_code == 202, response.text
            queued.append(response.json()["job_id"])
        poster = Poster(base, headers, threads=3, pause=0.05).start()
        time.sleep(1)
        down_at = time.monotonic()
        postgres.stop("immediate")  # like a crash: every connection cut mid-transaction
        time.sleep(3)
        restarting_at = time.monotonic()
        postgres.start()
        up_at = time.monotonic()
        wait_for(lambda: any(a[3] > up_at and a[1] == 202 for a in poster.answers), 60,
                 what="the API to accept jobs again")
        back_after = min(a[0] for a in poster.answers if a[3] > up_at and a[1] == 202) - up_at
        time.sleep(1)
        poster.stop()
        every_job = set(queued) | set(poster.accepted())
        try:
            wait_for(lambda: all_completed(database, every_job), 150, interval=1, what="every accepted job completed")
        except AssertionError:
            print("NOT COMPLETED:", [(r.id, r.status, r.attempts, r.error_reason, r.worker, (r.error or "")[:200])
                                     for r in rows(database, every_job) if r.status != "completed"],
                  "NO ROW:", sorted(set(every_job) - {r.id for r in rows(database, every_job)}))
            print("WORKER LOG (tail):", "\n".join(worker.log().splitlines()[-60:]))
            import os
            if os.environ.get("CHAOS_KEEP_LOGS"):
                (Path(os.environ["CHAOS_KEEP_LOGS"]) / "worker.log").write_text(worker.log())
                (Path(os.environ["CHAOS_KEEP_LOGS"]) / "web.log").write_text(web.log())
            raise
        finally:
            found = rows(database, every_job)
            during = poster.between(down_at + 0.2, restarting_at)
            report("postgres_restart", jobs=len(every_job), answers=dict(poster.counts()),
                   answers_while_down=sorted(set(map(str, during))), api_back_after_s=round(back_after, 2),
                   retried=sum(r.attempts > 1 for r in found),
                   completed=sum(r.status == "completed" for r in found),
                   not_completed=len([r for r in found if r.status != "completed"]),
                   lost=len(every_job) - sum(r.status == "completed" for r in found))
        assert not poster.server_errors(), poster.server_errors()[:5]
        assert during and set(during) <= {503}, f"while PostgreSQL was down the API answered {set(during)}"
        assert worker.process.poll() is None, "the worker died with the database"
    finally:
        if poster:
            poster.stop()
        web.stop()
        worker.stop()
        database.dispose()
        postgres.close()


def database_with_a_business(postgres: PrivatePostgres, name: str, tmp_path: Path) -> tuple[Database, int]:
    """A migrated database `name` on the private server, with one business: (its Database, the business id)."""
    url = postgres.create_database(name)
    run_migrations(url, lock_dir=tmp_path)
    database = Database(url)
    with database.session() as session:
        business, _key = create_business(session, name)
        return database, business.id


def queued_ping_row(database: Database, business_id: int, job_id: str, *, message_id: str) -> None:
    from db import job_store

    with database.session() as session:
        job_store.create_job(session, is_batch=False, job_id=job_id, business_id=business_id, type="ping",
                             actor_name="diagnostic_ping", queue="default", message_id=message_id, args={})


def test_a_job_outcome_the_worker_was_told_is_written_survives_a_postgresql_crash(tmp_path):
    """A worker acks a message once its job's outcome is written: that write must be durable, or a crash
    right after it leaves the row `running` with no message left anywhere (the reconciler does not resend a
    row its live worker holds), a job stuck until that worker exits. The WAL writer is slowed to 10 s so a
    commit that does not wait for its flush is still only in memory when the server is killed."""
    from db import job_store
    from db.base import new_id, utcnow
    from db.job_batcher import JobWriteBatcher

    postgres = PrivatePostgres(settings={"wal_writer_delay": "10s"}).start()
    database = writes = None
    try:
        database, business_id = database_with_a_business(postgres, "prosaas_durable", tmp_path)
        job_ids = [new_id(), new_id()]
        for job_id in job_ids:
            queued_ping_row(database, business_id, job_id, message_id=new_id())
        writes = JobWriteBatcher(database)
        stale_before = utcnow()
        for job_id in job_ids:
            assert writes.claim(job_id, worker="test:1", stale_before=stale_before).action == "run"
        writes.finish(job_ids[0], status="completed", result={"ok": True})  # the one-trip path
        writes.finish(job_ids[1], status="failed", error="boom", reason="RuntimeError")  # the transaction path
        writes.close()
        database.dispose()
        postgres.stop("immediate")  # a crash: WAL still in shared memory is gone
        postgres.start()
        with database.session() as session:
            found = {job_id: job_store.get_job(session, job_id).status for job_id in job_ids}
        assert found == {job_ids[0]: "completed", job_ids[1]: "failed"}
    finally:
        if writes is not None:
            writes.close()
        if database is not None:
            database.dispose()
        postgres.close()


def test_an_outcome_is_written_once_postgresql_is_back_however_long_it_was_down(tmp_path):
    """A job finished while PostgreSQL is down: its worker thread waits to record the outcome, however long the
    outage. It used to give up after ~17 s; the message was then acked with the row still `running`, and no
    message was left to finish it. Here the server stays down past that, then the row must end `completed`."""
    import threading

    from dramatiq import Message

    from db import job_store
    from db.base import new_id
    from prosaas.middleware.tracking import JobTracking

    postgres = PrivatePostgres().start()
    database = tracking = None
    try:
        database, business_id = database_with_a_business(postgres, "prosaas_outage", tmp_path)
        job_id = new_id()
        message = Message(queue_name="default", actor_name="diagnostic_ping", args=(),
                          kwargs={"business_id": business_id}, options={"job_id": job_id})
        queued_ping_row(database, business_id, job_id, message_id=message.message_id)
        tracking = JobTracking(database, stale_after_seconds=60)
        tracking.before_process_message(None, message)  # claimed: the job runs
        postgres.stop("immediate")  # ... and finishes while the database is down
        recorded = {}

        def finish():
            try:
                tracking.after_process_message(None, message, result={"ok": True})
                recorded["at"] = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                recorded["error"] = exc

        writer = threading.Thread(target=finish, daemon=True)
        writer.start()
        time.sleep(19)  # past the ~17 s after which the outcome used to be given up
        assert "error" not in recorded, recorded
        postgres.start()
        writer.join(30)
        assert not writer.is_alive() and "at" in recorded, recorded
        with database.session() as session:
            assert job_store.get_job(session, job_id).status == "completed"
    finally:
        if tracking is not None:
            tracking.writes.close()
        if database is not None:
            database.dispose()
        postgres.close()
