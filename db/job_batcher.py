"""Group commit for job-row state changes: how a worker process's claims and outcomes reach the database.

Every greenlet/thread of a worker process hands its claim or outcome to one writer per process
(db/group_commit.py) and waits for it; whatever accumulated while the previous write was in flight goes
into ONE transaction of a few statements: one UPDATE for all claims, one for all completions.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db import job_store
from db.base import utcnow
from db.job_statements import CLAIM_JOBS_BATCH, COMPLETE_JOBS_BATCH
from db.group_commit import GroupCommitWriter, GroupWriteFailed, Write
from db.models.core import BackgroundJob, JobStatus

CLAIM = "claim"
COMPLETED = JobStatus.COMPLETED
FAILED = JobStatus.FAILED
RETRY = "retry"

# A batch's rows are found by primary key, one index lookup per row, whatever the statistics say. Planned
# from statistics taken while few rows were queued (a fresh table, or stats from before a burst),
# PostgreSQL scanned every queued row, or the whole table, for each batch, slower as the backlog grew
# (bench/README.md, "Job-row batches find their rows by primary key"). So the batch transaction turns off the plans
# that read the whole table (PLAN_BY_PRIMARY_KEY), and the batch statements (db/job_statements.py) test
# statuses in CASE expressions, which no status index can serve.
PLAN_BY_PRIMARY_KEY = ("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "
                       "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")

# A failed batch raises this in every caller (an SQLAlchemyError, so the callers retry as on any DB error).
JobWriteFailed = GroupWriteFailed


@dataclass(eq=False)
class JobWrite(Write):
    """One caller's claim or outcome; a claim's answer is its job_store.Claim."""

    kind: str = CLAIM  # CLAIM | COMPLETED | FAILED | RETRY
    job_id: str = ""
    fields: dict[str, Any] = None


class JobWriteBatcher(GroupCommitWriter[JobWrite]):
    """Claims and outcomes of job rows, written by one writer thread/greenlet per process in batches.

    Each call blocks until its change is committed (or raises JobWriteFailed, an SQLAlchemyError, when
    the batch holding it failed), so callers keep the semantics of writing it themselves. Commits do not
    wait for the WAL flush (job state changes, as before).

    >>> writes = JobWriteBatcher(database)
    >>> writes.claim(job_id, worker="host:123", stale_before=utcnow() - dt.timedelta(seconds=60)).action
    'run'
    >>> writes.finish(job_id, status="completed", result={"sent": 3})
    """

    thread_name = "job-write-batcher"

    def __init__(self, database, *, max_batch: int = 256):
        super().__init__(database, relaxed_durability=True, max_batch=max_batch)

    def claim(self, job_id: str, *, worker: str, stale_before: dt.datetime) -> job_store.Claim:
        """Mark the job running for this delivery, or say why not (job_store.claim_for_run's answer)."""
        return self.submit(JobWrite(CLAIM, job_id, {"worker": worker, "stale_before": stale_before})).answer

    def finish(self, job_id: str, *, status: str, error: Optional[str] = None, reason: Optional[str] = None,
               result: Optional[dict] = None) -> None:
        """Move the job to completed or failed (job_store.finish_job)."""
        if status not in (COMPLETED, FAILED):
            raise ValueError(f"finish() records completed or failed, not {status!r}")
        encoded = json.dumps(result) if result is not None else None  # a bad result fails its caller only
        self.submit(JobWrite(status, job_id, {"error": error, "reason": reason, "result": result,
                                              "encoded_result": encoded}))

    def record_retry(self, job_id: str, *, error: str, reason: str) -> None:
        """A failed attempt that will be retried: back to queued (job_store.record_retry)."""
        self.submit(JobWrite(RETRY, job_id, {"error": error, "reason": reason}))

    def describe(self, write: JobWrite) -> str:
        return f"the {write.kind} of job {write.job_id}"

    def write_batch(self, connection: Connection, batch: list[JobWrite]) -> None:
        write_batch(connection, batch, utcnow())

    def retry_alone_after(self, exc: BaseException) -> bool:
        """A deadlock or serialization failure is the batch's, not one row's: write each change alone."""
        try:
            from psycopg2.errors import TransactionRollbackError
        except ImportError:  # SQLite-only install: no batches there anyway
            return False
        return isinstance(getattr(exc, "orig", None), TransactionRollbackError)

    def write_alone(self, connection: Connection, write: JobWrite) -> None:
        """SQLite: one transaction per change in the caller, as job_store writes it."""
        if write.kind == CLAIM:
            write.answer = job_store.claim_for_run(connection, write.job_id, **write.fields)
        else:
            _write_one_outcome(connection, write)


def write_batch(connection: Connection, batch: list[JobWrite], now: dt.datetime) -> None:
    """Outcomes first (they only touch rows this process runs), then claims; statements in id order."""
    connection.exec_driver_sql(PLAN_BY_PRIMARY_KEY)
    by_kind: dict[str, list[JobWrite]] = {}
    for write in sorted(batch, key=lambda w: w.job_id):
        by_kind.setdefault(write.kind, []).append(write)
    if by_kind.get(COMPLETED):
        _write_completed(connection, by_kind[COMPLETED], now)
    for write in by_kind.get(FAILED, []) + by_kind.get(RETRY, []):  # rare: one statement each
        _write_one_outcome(connection, write)
    if by_kind.get(CLAIM):
        _write_claims(connection, by_kind[CLAIM], now)


def _write_completed(connection: Connection, writes: list[JobWrite], now: dt.datetime) -> None:
    connection.exec_driver_sql(COMPLETE_JOBS_BATCH, {
        "now": now, "ids": [w.job_id for w in writes], "results": [w.fields["encoded_result"] for w in writes]})


def _write_one_outcome(connection: Connection, write: JobWrite) -> None:
    if write.kind == RETRY:
        job_store.record_retry(connection, write.job_id, error=write.fields["error"], reason=write.fields["reason"])
    else:
        job_store.finish_job(connection, write.job_id, status=write.kind, error=write.fields["error"],
                             reason=write.fields["reason"], result=write.fields["result"])


def _write_claims(connection: Connection, writes: list[JobWrite], now: dt.datetime) -> None:
    """Claim each job once; every write not answered `run` is decided from the row as it now stands."""
    first: dict[str, JobWrite] = {}
    for write in writes:
        first.setdefault(write.job_id, write)  # a second delivery of the same job in this batch
    claimed = {row[0] for row in connection.exec_driver_sql(CLAIM_JOBS_BATCH, {
        "now": now, "ids": list(first),
        "workers": [w.fields["worker"] for w in first.values()],
        "stale": [w.fields["stale_before"] for w in first.values()],
    })}
    refused = [w for w in writes if not (w.job_id in claimed and first[w.job_id] is w)]
    for write in (w for w in writes if w.job_id in claimed and first[w.job_id] is w):
        write.answer = job_store.Claim(job_store.ClaimAction.RUN)
    if refused:
        rows = _rows_by_id(connection, {w.job_id for w in refused})
        for write in refused:
            write.answer = job_store.refusal(rows.get(write.job_id))


def _rows_by_id(connection: Connection, job_ids: set[str]) -> dict[str, BackgroundJob]:
    session = Session(bind=connection, expire_on_commit=False)
    return {job.id: job for job in session.scalars(select(BackgroundJob).where(BackgroundJob.id.in_(job_ids)))}
