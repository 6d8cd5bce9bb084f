"""Group commit for job-row state changes: how a worker process's claims and outcomes reach the database.

Every greenlet/thread of a worker process hands its claim or outcome to one writer per process and waits
for it; the writer puts whatever accumulated while its previous write was in flight into ONE transaction
of a few statements (classic group commit: an idle writer writes at once, no fixed sleep). SQLite writes
each change in the caller's own transaction, as before.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db import job_store
from db.base import utcnow
from db.models.core import BackgroundJob, JobStatus

CLAIM = "claim"
COMPLETED = JobStatus.COMPLETED
FAILED = JobStatus.FAILED
RETRY = "retry"

# One claim UPDATE for a whole batch, same rules as job_store.claim_for_run (per-row worker and cutoff).
_CLAIM_SQL = (
    "UPDATE background_jobs AS j SET status = 'running', attempts = j.attempts + 1, "
    "started_at = COALESCE(j.started_at, %(now)s), heartbeat_at = %(now)s, updated_at = %(now)s, "
    "worker = c.worker, finished_at = NULL "
    "FROM unnest(%(ids)s::varchar[], %(workers)s::varchar[], %(stale)s::timestamptz[]) "
    "AS c(id, worker, stale_before) "
    "WHERE j.id = c.id AND (j.status = 'queued' OR (j.status = 'running' AND "
    "(j.heartbeat_at IS NULL OR j.heartbeat_at < c.stale_before))) "
    "RETURNING j.id"
)
# One UPDATE for every completed job of a batch, same rules as job_store.finish_job(status=completed);
# a NULL result leaves the row's result as it is.
_COMPLETE_SQL = (
    "UPDATE background_jobs AS j SET status = 'completed', updated_at = %(now)s, heartbeat_at = %(now)s, "
    "finished_at = %(now)s, requested_action = NULL, error = NULL, error_reason = NULL, "
    "result = COALESCE(CAST(r.result AS json), j.result) "
    "FROM unnest(%(ids)s::varchar[], %(results)s::text[]) AS r(id, result) "
    "WHERE j.id = r.id AND j.status IN ('running', 'queued')"
)


class JobWriteFailed(SQLAlchemyError):
    """The batch holding this write failed and nothing of it was written; the cause is `__cause__`."""


@dataclass(eq=False)
class _Write:
    """One caller's claim or outcome, and the answer it waits for."""

    kind: str  # CLAIM | COMPLETED | FAILED | RETRY
    job_id: str
    fields: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    claim: Optional[job_store.Claim] = None
    error: Optional[BaseException] = None


class JobWriteBatcher:
    """Claims and outcomes of job rows, written by one writer thread/greenlet per process in batches.

    Each call blocks until its change is committed (or raises JobWriteFailed, an SQLAlchemyError, when
    the batch holding it failed), so callers keep the semantics of writing it themselves. The writer
    starts lazily in each process (after a fork too) and is restarted if it ever died.

    >>> writes = JobWriteBatcher(database)
    >>> writes.claim(job_id, worker="host:123", stale_before=utcnow() - dt.timedelta(seconds=60)).action
    'run'
    >>> writes.finish(job_id, status="completed", result={"sent": 3})
    """

    WAIT_CHECK_SECONDS = 5.0  # how often a waiting caller checks that the writer is still alive

    def __init__(self, database, *, max_batch: int = 256):
        self.database = database
        self.max_batch = max_batch
        self.batches_written = 0  # counters, for tests and profiling
        self.writes_written = 0
        self._reset_process_state()
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (this() is not None and this()._reset_process_state()))

    # Public calls -------------------------------------------------------------------------------
    def claim(self, job_id: str, *, worker: str, stale_before: dt.datetime) -> job_store.Claim:
        """Mark the job running for this delivery, or say why not (job_store.claim_for_run's answer)."""
        return self._submit(_Write(CLAIM, job_id, {"worker": worker, "stale_before": stale_before})).claim

    def finish(self, job_id: str, *, status: str, error: Optional[str] = None, reason: Optional[str] = None,
               result: Optional[dict] = None) -> None:
        """Move the job to completed or failed (job_store.finish_job)."""
        if status not in (COMPLETED, FAILED):
            raise ValueError(f"finish() records completed or failed, not {status!r}")
        encoded = json.dumps(result) if result is not None else None  # a bad result fails its caller only
        self._submit(_Write(status, job_id, {"error": error, "reason": reason, "result": result,
                                             "encoded_result": encoded}))

    def record_retry(self, job_id: str, *, error: str, reason: str) -> None:
        """A failed attempt that will be retried: back to queued (job_store.record_retry)."""
        self._submit(_Write(RETRY, job_id, {"error": error, "reason": reason}))

    @property
    def pending(self) -> int:
        """Writes waiting for the next batch (not counting the one being written)."""
        with self._lock:
            return len(self._pending)

    # Callers' side ------------------------------------------------------------------------------
    def _submit(self, write: _Write) -> _Write:
        if self.database.is_sqlite:
            return self._write_alone(write)
        if self._pid != os.getpid():
            self._reset_process_state()
        with self._lock:
            self._pending.append(write)
            self._ensure_writer()
            self._wake.notify()
        while not write.done.wait(self.WAIT_CHECK_SECONDS):
            with self._lock:
                self._ensure_writer()
        if write.error is not None:
            raise JobWriteFailed(f"the batch writing job {write.job_id} failed: "
                                 f"{type(write.error).__name__}: {write.error}") from write.error
        return write

    def _write_alone(self, write: _Write) -> _Write:
        """SQLite: one transaction per change in the caller, as job_store writes it."""
        with self.database.transaction(relaxed_durability=True) as connection:
            if write.kind == CLAIM:
                write.claim = job_store.claim_for_run(connection, write.job_id, **write.fields)
            else:
                _write_one_outcome(connection, write)
        return write

    # Writer's side ------------------------------------------------------------------------------
    def _reset_process_state(self) -> None:
        """Fresh lock, queue and writer for this process (a forked child must not use its parent's)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[_Write] = []
        self._writer: Optional[threading.Thread] = None
        self._pid = os.getpid()

    def _ensure_writer(self) -> None:
        """Start the writer if this process has none alive (caller holds the lock)."""
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._write_forever, name="job-write-batcher", daemon=True)
            self._writer.start()

    def _write_forever(self) -> None:
        while True:
            batch = self._next_batch()
            self._write_batch(batch)

    def _next_batch(self) -> list[_Write]:
        """Wait for pending writes and take up to max_batch of them."""
        with self._lock:
            while not self._pending:
                self._wake.wait()
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            return batch

    def _write_batch(self, batch: list[_Write]) -> None:
        """One transaction for the whole batch; any failure fails every write in it, none is dropped."""
        try:
            with self.database.transaction(relaxed_durability=True) as connection:
                write_batch(connection, batch, utcnow())
            self.batches_written += 1
            self.writes_written += len(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller, who decides
            for write in batch:
                write.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for write in batch:
                write.done.set()


def write_batch(connection: Connection, batch: list[_Write], now: dt.datetime) -> None:
    """Outcomes first (they only touch rows this process runs), then claims; statements in id order."""
    by_kind: dict[str, list[_Write]] = {}
    for write in sorted(batch, key=lambda w: w.job_id):
        by_kind.setdefault(write.kind, []).append(write)
    if by_kind.get(COMPLETED):
        _write_completed(connection, by_kind[COMPLETED], now)
    for write in by_kind.get(FAILED, []) + by_kind.get(RETRY, []):  # rare: one statement each
        _write_one_outcome(connection, write)
    if by_kind.get(CLAIM):
        _write_claims(connection, by_kind[CLAIM], now)


def _write_completed(connection: Connection, writes: list[_Write], now: dt.datetime) -> None:
    connection.exec_driver_sql(_COMPLETE_SQL, {
        "now": now, "ids": [w.job_id for w in writes], "results": [w.fields["encoded_result"] for w in writes]})


def _write_one_outcome(connection: Connection, write: _Write) -> None:
    if write.kind == RETRY:
        job_store.record_retry(connection, write.job_id, error=write.fields["error"], reason=write.fields["reason"])
    else:
        job_store.finish_job(connection, write.job_id, status=write.kind, error=write.fields["error"],
                             reason=write.fields["reason"], result=write.fields["result"])


def _write_claims(connection: Connection, writes: list[_Write], now: dt.datetime) -> None:
    """Claim each job once; every write not answered `run` is decided from the row as it now stands."""
    first: dict[str, _Write] = {}
    for write in writes:
        first.setdefault(write.job_id, write)  # a second delivery of the same job in this batch
    claimed = {row[0] for row in connection.exec_driver_sql(_CLAIM_SQL, {
        "now": now, "ids": list(first),
        "workers": [w.fields["worker"] for w in first.values()],
        "stale": [w.fields["stale_before"] for w in first.values()],
    })}
    refused = [w for w in writes if not (w.job_id in claimed and first[w.job_id] is w)]
    for write in (w for w in writes if w.job_id in claimed and first[w.job_id] is w):
        write.claim = job_store.Claim("run")
    if refused:
        rows = _rows_by_id(connection, {w.job_id for w in refused})
        for write in refused:
            write.claim = job_store.refusal(rows.get(write.job_id))


def _rows_by_id(connection: Connection, job_ids: set[str]) -> dict[str, BackgroundJob]:
    session = Session(bind=connection, expire_on_commit=False)
    return {job.id: job for job in session.scalars(select(BackgroundJob).where(BackgroundJob.id.in_(job_ids)))}
