"""The job-row write batcher (group commit) against the run's real database, from many threads and greenlets.

Row locks taken from a second connection hold the writer inside a batch, so what the next batch holds is
known without any timing: duplicates in one batch, every claim rule at once, a batch killed by the database.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from db import job_store
from db.base import new_id, utcnow
from db.job_batcher import JobWriteBatcher, JobWriteFailed
from db.job_write_trip import SESSION_PLAN_SETTINGS, JobWriteTrip
from db.models.core import BackgroundJob, JobStatus
from tests.machinery.helpers import job_row
from tests.support.environment import REPO_ROOT
from tests.support.processes import wait_for

WORKER = "batcher-test:1"
postgres_only = pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("sqlite"),
                                   reason="group commit is PostgreSQL's path; SQLite writes each change alone")


def make_jobs(runtime, business, count: int, **fields) -> list[str]:
    ids = [new_id() for _ in range(count)]
    with runtime.database.session() as session:
        for job_id in ids:
            session.add(BackgroundJob(id=job_id, business_id=business.id, type="noop", actor_name="noop",
                                      queue="default", message_id=new_id(), args={}, is_batch=False,
                                      status=fields.get("status", JobStatus.QUEUED), worker=fields.get("worker"),
                                      attempts=fields.get("attempts", 0), started_at=fields.get("started_at"),
                                      heartbeat_at=fields.get("heartbeat_at"), created_at=utcnow(),
                                      updated_at=utcnow()))
    return ids


def stale_before() -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=60)


class Calls:
    """Run batcher calls in threads and collect what each returned or raised."""

    def __init__(self):
        self.threads: list[threading.Thread] = []
        self.results: dict[str, list] = {}

    def start(self, name: str, call, *args, **kwargs) -> None:
        def run():
            try:
                value = call(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                value = exc
            self.results.setdefault(name, []).append(value)
        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def join(self) -> dict[str, list]:
        for thread in self.threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in self.threads), "a batcher call never returned"
        return self.results


@contextmanager
def row_locked(runtime, job_id: str):
    """Hold a row lock from another connection: a batch touching the row waits until the block ends."""
    with runtime.database.engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("SELECT id FROM background_jobs WHERE id = :id FOR UPDATE"), {"id": job_id})
        try:
            yield
        finally:
            transaction.rollback()


def writer_waits_on_lock(runtime) -> int:
    """The backend pid of the batcher's connection while it waits on a row lock (or 0)."""
    with runtime.database.engine.connect() as connection:
        return connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query LIKE 'UPDATE background_jobs%'")).scalar() or 0


def test_many_threads_claim_and_record_outcomes(runtime, business):
    batcher = JobWriteBatcher(runtime.database)
    count = 240 if not runtime.database.is_sqlite else 60
    ids = make_jobs(runtime, business, count)
    answers: dict[str, list[str]] = {}

    def lifecycle(index: int, job_id: str) -> None:
        answers[job_id] = [batcher.claim(job_id, worker=WORKER, stale_before=stale_before()).action]
        second = batcher.claim(job_id, worker=WORKER, stale_before=stale_before())  # a duplicate delivery
        answers[job_id].append(f"{second.action}:{second.reason}")
        if index % 10 == 7:
            batcher.finish(job_id, status=JobStatus.FAILED, error="boom", reason="RuntimeError")
            return
        if index % 10 == 8:  # fails once, is retried, then completes
            batcher.record_retry(job_id, error="first try", reason="RuntimeError")
            answers[job_id].append(batcher.claim(job_id, worker=WORKER, stale_before=stale_before()).action)
        batcher.finish(job_id, status=JobStatus.COMPLETED, result={"index": index} if index % 2 else None)

    threads = [threading.Thread(target=lambda chunk=chunk: [lifecycle(i, ids[i]) for i in chunk])
               for chunk in (range(start, count, 30) for start in range(30))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    for index, job_id in enumerate(ids):
        row = job_row(job_id)
        assert answers[job_id][:2] == ["run", "defer:running_elsewhere"], (index, answers[job_id])
        if index % 10 == 7:
            assert (row.status, row.error, row.error_reason, row.attempts) == ("failed", "boom", "RuntimeError", 1)
            continue
        assert row.status == "completed" and row.finished_at and row.started_at and row.worker == WORKER
        assert row.error is None and row.error_reason is None
        assert row.attempts == (2 if index % 10 == 8 else 1)
        assert row.result == ({"index": index} if index % 2 else None)
    if not runtime.database.is_sqlite:
        writes = sum(len(a) for a in answers.values()) + count  # claims + one outcome each (+ retries below)
        assert batcher.writes_written == writes + sum(1 for i in range(count) if i % 10 == 8)


@postgres_only
def test_one_batch_applies_every_claim_rule_and_refuses_a_duplicate(runtime, business):
    batcher = JobWriteBatcher(runtime.database)
    blocker, dup, queued, to_complete = make_jobs(runtime, business, 4)
    batcher.claim(to_complete, worker=WORKER, stale_before=stale_before())
    long_ago = utcnow() - dt.timedelta(hours=1)
    [stale] = make_jobs(runtime, business, 1, status="running", worker="dead:9", attempts=1,
                        started_at=long_ago, heartbeat_at=long_ago)
    [fresh] = make_jobs(runtime, business, 1, status="running", worker="other:2", attempts=1,
                        started_at=utcnow(), heartbeat_at=utcnow())
    [done] = make_jobs(runtime, business, 1, status="completed")
    calls = Calls()
    with row_locked(runtime, blocker):
        calls.start("blocker", batcher.claim, blocker, worker=WORKER, stale_before=stale_before())
        wait_for(lambda: writer_waits_on_lock(runtime), 30, what="the writer to wait on the locked row")
        for name, job_id in (("dup", dup), ("dup", dup), ("queued", queued), ("stale", stale), ("fresh", fresh),
                             ("done", done), ("missing", new_id())):
            calls.start(name, batcher.claim, job_id, worker=WORKER, stale_before=stale_before())
        calls.start("complete", batcher.finish, to_complete, status=JobStatus.COMPLETED, result={"ok": True})
        wait_for(lambda: batcher.pending == 8, 30, what="eight writes waiting behind the locked batch")
    results = calls.join()
    assert batcher.batches_written == 3  # to_complete's claim, the blocked one, and all eight together

    assert sorted(f"{c.action}:{c.reason}" for c in results["dup"]) == ["defer:running_elsewhere", "run:"]
    assert [c.action for c in results["blocker"] + results["queued"] + results["stale"]] == ["run"] * 3
    [fresh_claim] = results["fresh"]
    assert (fresh_claim.action, fresh_claim.reason, fresh_claim.job.worker) == ("defer", "running_elsewhere",
                                                                                "other:2")
    assert [(c.action, c.reason) for c in results["done"] + results["missing"]] == [("skip", "completed"),
                                                                                    ("skip", "no_row")]
    assert job_row(dup).attempts == 1 and job_row(queued).attempts == 1
    row = job_row(stale)
    assert (row.attempts, row.started_at, row.worker) == (2, long_ago, WORKER)  # taken over, first start kept
    assert job_row(fresh).worker == "other:2" and job_row(fresh).attempts == 1
    assert (job_row(to_complete).status, job_row(to_complete).result) == ("completed", {"ok": True})


@postgres_only
def test_a_database_error_fails_every_caller_of_its_batch_and_writes_none_of_it(runtime, business):
    batcher = JobWriteBatcher(runtime.database)
    blocker, locked, other, running = make_jobs(runtime, business, 4)
    batcher.claim(running, worker=WORKER, stale_before=stale_before())
    calls = Calls()
    with row_locked(runtime, locked):
        with row_locked(runtime, blocker):
            calls.start("blocker", batcher.claim, blocker, worker=WORKER, stale_before=stale_before())
            wait_for(lambda: writer_waits_on_lock(runtime), 30, what="the writer to wait on the blocker")
            for name, job_id in (("locked", locked), ("other", other)):
                calls.start(name, batcher.claim, job_id, worker=WORKER, stale_before=stale_before())
            calls.start("complete", batcher.finish, running, status=JobStatus.COMPLETED)
            wait_for(lambda: batcher.pending == 3, 30, what="three writes behind the blocked batch")
        # The blocker's batch commits; the next one (all three) now waits on `locked`: kill its connection.
        wait_for(lambda: "blocker" in calls.results, 30, what="the blocker's batch to commit")
        pid = wait_for(lambda: writer_waits_on_lock(runtime), 30, what="the second batch to wait on its lock")
        with runtime.database.engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        results = calls.join()
    assert results["blocker"][0].action == "run"
    for name in ("locked", "other", "complete"):
        [error] = results[name]
        assert isinstance(error, JobWriteFailed) and error.__cause__ is not None, (name, error)
    # Nothing of the failed batch was written: the completion and the claims are as before.
    assert job_row(running).status == "running" and job_row(other).status == "queued"
    assert job_row(other).attempts == 0
    # The callers retry, and the batcher works again on a fresh connection.
    assert batcher.claim(other, worker=WORKER, stale_before=stale_before()).action == "run"
    batcher.finish(running, status=JobStatus.COMPLETED)
    assert job_row(running).status == "completed" and job_row(other).attempts == 1


@postgres_only
def test_many_greenlets_of_a_gevent_process_share_the_batcher(runtime, business, test_env):
    ids = make_jobs(runtime, business, 300)
    script = REPO_ROOT / "tests" / "support" / "job_batcher_greenlets.py"
    answer = subprocess.run([sys.executable, str(script)], input="\n".join(ids), capture_output=True, text=True,
                            cwd=REPO_ROOT, env={**os.environ, **test_env}, timeout=120)
    assert answer.returncode == 0, answer.stderr
    summary = json.loads(answer.stdout.strip().splitlines()[-1])
    assert summary["actions"] == {"run": 300, "defer": 300}
    assert summary["writes"] == 900 and summary["batches"] <= 900
    with runtime.database.session() as session:
        rows = session.query(BackgroundJob).filter(BackgroundJob.id.in_(ids)).all()
    assert len(rows) == 300
    assert all(row.status == "completed" and row.attempts == 1 and row.result == {"job": row.id} for row in rows)


def test_claim_rules_without_batching_on_this_database(runtime, business):
    """The same answers on either database, one change at a time (SQLite's path, PostgreSQL's idle path)."""
    batcher = JobWriteBatcher(runtime.database)
    [queued] = make_jobs(runtime, business, 1)
    assert batcher.claim(queued, worker=WORKER, stale_before=stale_before()).action == "run"
    again = batcher.claim(queued, worker=WORKER, stale_before=stale_before())
    assert (again.action, again.job.worker) == ("defer", WORKER)
    batcher.record_retry(queued, error="once", reason="RuntimeError")
    assert job_row(queued).status == "queued" and job_row(queued).error == "once"
    assert batcher.claim(queued, worker=WORKER, stale_before=stale_before()).action == "run"
    batcher.finish(queued, status=JobStatus.COMPLETED)
    assert batcher.claim(queued, worker=WORKER, stale_before=stale_before()).reason == "completed"
    assert (job_row(queued).attempts, job_row(queued).error) == (2, None)
    with pytest.raises(ValueError):
        batcher.finish(queued, status=JobStatus.RUNNING)
    assert job_store.refusal(None).reason == "no_row"


@postgres_only
def test_batch_statements_find_rows_by_primary_key_however_many_are_queued(runtime, business):
    """Statistics taken while few rows were queued must not make a batch scan every queued row (a backlog)."""
    from db.job_batcher import PLAN_BY_PRIMARY_KEY
    from db.job_statements import CLAIM_JOBS_BATCH as _CLAIM_SQL, COMPLETE_JOBS_BATCH as _COMPLETE_SQL

    now = utcnow()
    with runtime.database.engine.connect() as connection, connection.begin() as transaction:
        connection.exec_driver_sql("ANALYZE background_jobs")  # stats as committed: the backlog below is unseen
        connection.exec_driver_sql(
            "INSERT INTO background_jobs (id, business_id, type, actor_name, queue, message_id, status, is_batch, "
            "total, processed, succeeded, failed, attempts, args, created_at, updated_at) "
            "SELECT 'plan-' || g, %(business)s, 'noop', 'noop', 'default', 'plan-' || g, 'queued', false, "
            "0, 0, 0, 0, 0, '{}', now(), now() FROM generate_series(1, 5000) AS g", {"business": business.id})
        ids = [f"plan-{n}" for n in range(1, 51)]
        plans = {
            "claim": (_CLAIM_SQL, {"now": now, "ids": ids, "workers": [WORKER] * 50, "stale": [now] * 50}),
            "complete": (_COMPLETE_SQL, {"now": now, "ids": ids, "results": [None] * 50}),
        }
        # What a batch transaction starts with, and what the batcher's own connection (one round trip) is set to.
        for settings in (PLAN_BY_PRIMARY_KEY, SESSION_PLAN_SETTINGS):
            connection.exec_driver_sql("RESET ALL")
            connection.exec_driver_sql(settings)
            for name, (sql, params) in plans.items():
                plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params))
                assert "pk_background_jobs" in plan and "ix_background_jobs_status" not in plan, f"{name}:\n{plan}"
        transaction.rollback()


@postgres_only
def test_one_round_trip_commits_completions_and_claims_together_or_not_at_all(runtime, business):
    """The two UPDATEs go as one query, i.e. one implicit transaction: a claim part that fails leaves the
    completions unwritten too, and the connection serves the next batch."""
    trip = JobWriteTrip(lambda: runtime.database.relaxed_engine)
    running, queued, other = make_jobs(runtime, business, 3)
    assert trip.write(utcnow(), [], [], [(running, WORKER, stale_before())]) == {running}
    with pytest.raises(Exception, match="timestamp"):
        trip.write(utcnow(), [running], ['{"ok": true}'], [(queued, WORKER, "not a timestamp")])
    assert job_row(running).status == "running" and job_row(queued).status == "queued"
    assert trip.write(utcnow(), [running], ['{"ok": true}'], [(queued, WORKER, stale_before()),
                                                              (other, WORKER, stale_before())]) == {queued, other}
    assert (job_row(running).status, job_row(running).result) == ("completed", {"ok": True})
    assert job_row(queued).status == job_row(other).status == "running"
    trip.close()
