"""Group commit for job-row state changes: how a worker process's claims and outcomes reach the database.

Every greenlet/thread of a worker process hands its claim or outcome to one writer per process
(db/group_commit.py) and waits for it; whatever accumulated while the previous write was in flight goes
into ONE transaction of a few statements: one UPDATE for all claims, one for all completions.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db import job_store
from db.base import utcnow
from db.job_statements import CLAIM_JOBS_BATCH, COMPLETE_JOBS_BATCH
from db.group_commit import GroupCommitWriter, GroupWriteFailed, Write
from db.job_write_trip import JobWriteTrip
from db.models.core import BackgroundJob, JobStatus

log = logging.getLogger("prosaas.jobs")

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
    the batch holding it failed), so callers keep the semantics of writing it themselves. Commits wait for
    the WAL flush, one per batch: a worker acks a message once its outcome is written, so an outcome not
    yet on disk when PostgreSQL crashed would leave its row `running` with no message left to run it.

    >>> writes = JobWriteBatcher(database)
    >>> writes.claim(job_id, worker="host:123", stale_before=utcnow() - dt.timedelta(seconds=60)).action
    'run'
    >>> writes.finish(job_id, status="completed", result={"sent": 3})
    """

    thread_name = "job-write-batcher"

    def __init__(self, database, *, max_batch: int = 256):
        self.trip = JobWriteTrip(lambda: database.engine)
        super().__init__(database, relaxed_durability=False, max_batch=max_batch)

    def _reset_process_state(self) -> None:
        super()._reset_process_state()
        self.trip.forget_after_fork()

    def close(self, timeout: float = 10.0) -> None:
        super().close(timeout)
        self.trip.close()

    def handle_batch(self, batch: list[JobWrite]) -> None:
        """Claims and completions (nearly every batch) in one round trip (db/job_write_trip.py); a batch with
        a failure or a retry in one SQLAlchemy transaction."""
        if any(write.kind not in (CLAIM, COMPLETED) for write in batch):
            super().handle_batch(batch)
            return
        try:
            write_in_one_trip(self.trip, self.database, batch, utcnow())
        except Exception as exc:
            if len(batch) == 1 or not self.retry_alone_after(exc):
                raise
            self._write_one_by_one(batch)

    def claim(self, job_id: str, *, worker: str, stale_before: dt.datetime) -> job_store.Claim:
        """Mark the job running for this delivery, or say why not (job_store.claim_for_run's answer)."""
        return self.submit(JobWrite(CLAIM, job_id, {"worker": worker, "stale_before": stale_before})).answer

    def finish(self, job_id: str, *, status: str, error: Optional[str] = None, reason: Optional[str] = None,
               result: Optional[dict] = None) -> None:
        """Move the job to completed or failed (job_store.finish_job)."""
        if status not in (COMPLETED, FAILED):
            raise ValueError(f"finish() records completed or failed, not {status!r}")
        result, encoded = _storable_result(job_id, result)
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
        return isinstance(getattr(exc, "orig", exc), TransactionRollbackError)

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


def _storable_result(job_id: str, result: Optional[dict]) -> tuple[Optional[dict], Optional[str]]:
    """(result, its JSON) as the row can keep it: values JSON has no type for (a datetime, a Decimal) as text.

    An outcome that cannot be written would leave the job `running` after its message is acked; a result
    that cannot be encoded even so (a circular one) is dropped, and the job still completes."""
    if result is None:
        return None, None
    try:
        return result, json.dumps(result)
    except (TypeError, ValueError):
        pass
    try:
        encoded = json.dumps(result, default=str)
        return json.loads(encoded), encoded
    except (TypeError, ValueError) as exc:
        log.warning("JOB_RESULT_NOT_STORED job_id=%s error=%s", job_id, type(exc).__name__)
        return None, None


def _write_one_outcome(connection: Connection, write: JobWrite) -> None:
    if write.kind == RETRY:
        job_store.record_retry(connection, write.job_id, error=write.fields["error"], reason=write.fields["reason"])
    else:
        job_store.finish_job(connection, write.job_id, status=write.kind, error=write.fields["error"],
                             reason=write.fields["reason"], result=write.fields["result"])


def write_in_one_trip(trip: JobWriteTrip, database, batch: list[JobWrite], now: dt.datetime) -> None:
    """A batch of claims and completions: both UPDATEs in one query (one implicit transaction), then the
    refused claims answered from their rows as they now stand."""
    ordered = sorted(batch, key=lambda w: w.job_id)
    completed = [w for w in ordered if w.kind == COMPLETED]
    claims = [w for w in ordered if w.kind == CLAIM]
    first = _first_claims(claims)
    claimed = trip.write(now, [w.job_id for w in completed], [w.fields["encoded_result"] for w in completed],
                         ((job_id, w.fields["worker"], w.fields["stale_before"]) for job_id, w in first.items()))
    if claims:
        def rows_of(job_ids):
            with database.engine.connect() as connection:
                return _rows_by_id(connection, job_ids)
        _answer_claims(claims, first, claimed, rows_of)


def _first_claims(writes: list[JobWrite]) -> dict[str, JobWrite]:
    first: dict[str, JobWrite] = {}
    for write in writes:
        first.setdefault(write.job_id, write)  # a second delivery of the same job in this batch
    return first


def _answer_claims(writes: list[JobWrite], first: dict[str, JobWrite], claimed: set[str], rows_of) -> None:
    """`run` for each job's first claim that updated its row; every other write is decided from the row."""
    refused = [w for w in writes if not (w.job_id in claimed and first[w.job_id] is w)]
    for write in (w for w in writes if w.job_id in claimed and first[w.job_id] is w):
        write.answer = job_store.Claim(job_store.ClaimAction.RUN)
    if refused:
        rows = rows_of({w.job_id for w in refused})
        for write in refused:
            write.answer = job_store.refusal(rows.get(write.job_id))


def _write_claims(connection: Connection, writes: list[JobWrite], now: dt.datetime) -> None:
    """Claim each job once; every write not answered `run` is decided from the row as it now stands."""
    first = _first_claims(writes)
    claimed = {row[0] for row in connection.exec_driver_sql(CLAIM_JOBS_BATCH, {
        "now": now, "ids": list(first),
        "workers": [w.fields["worker"] for w in first.values()],
        "stale": [w.fields["stale_before"] for w in first.values()],
    })}
    _answer_claims(writes, first, claimed, lambda job_ids: _rows_by_id(connection, job_ids))


def _rows_by_id(connection: Connection, job_ids: set[str]) -> dict[str, BackgroundJob]:
    session = Session(bind=connection, expire_on_commit=False)
    return {job.id: job for job in session.scalars(select(BackgroundJob).where(BackgroundJob.id.in_(job_ids)))}
