"""Deleting a business's receipts in batches of 50: stored file first, then the row, crash-safe and resumable.

Each batch deletes its rows and writes the job's counts and cursor in ONE transaction, so after a
SIGKILL the retried job re-reads the cursor, re-runs at most the interrupted batch (deleting an
already-deleted file succeeds) and its counts stay exact. Transient database or storage errors back
off 2 -> 4 -> 8 -> 16 -> 30 s (RECEIPTS_BACKOFF_BASE_SECONDS) and the same batch is tried again.

A long deletion never meets its time limit in the normal course: between batches, when what is left
of the limit is less than a safety margin, it hands itself on to a continuation message (same job
id, cursor and progress kept). Only a batch stuck past the limit is killed (and retried from the cursor).

A receipt whose file the store refuses to delete (a permanent error) KEEPS its database row: it is
counted as failed and listed in the result's `failed_ids`, so no file is ever left without the row
that points at it and the user can retry the deletion later.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Optional, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from db import job_store, receipts_store
from prosaas.clients.storage import StorageUnavailable
from prosaas.errors import BadInput
from prosaas.jobs import JobProgress

log = logging.getLogger("prosaas.receipts")

BATCH_SIZE = 50
MAX_CONSECUTIVE_TRANSIENT_ERRORS = 8   # 2+4+8+16+30+30+30+30 s, then the job's own retry takes over
MAX_LISTED_FAILURES = 1000
HAND_ON_MARGIN_SHARE = 0.2             # hand on with a fifth of the time limit left ...
HAND_ON_MARGIN_BATCHES = 3             # ... or three of the slowest batch so far, whichever is longer
TRANSIENT_ERRORS = (StorageUnavailable, OperationalError, InterfaceError)
T = TypeVar("T")


class Stopped(Exception):
    """A pause or cancel request was honoured while the job was backing off."""


def backoff_delay(consecutive_errors: int, base_seconds: float) -> float:
    """2 -> 4 -> 8 -> 16 -> 30 s for a 2 s base: doubling, capped at 15 times the base."""
    return min(base_seconds * 2 ** (consecutive_errors - 1), base_seconds * 15)


def _fresh_cursor(max_id: int) -> dict:
    return {"after_id": 0, "max_id": max_id, "processed": 0, "deleted": 0, "failed": 0,
            "storage_deleted": 0, "storage_failed": 0, "failed_ids": []}


def _result(cursor: dict, total: int) -> dict:
    return {"total": total, "deleted": cursor["deleted"], "failed": cursor["failed"],
            "storage_deleted": cursor["storage_deleted"], "storage_failed": cursor["storage_failed"],
            "failed_ids": cursor["failed_ids"]}


class ReceiptDeletion:
    """One run of a deletion job; every step reads its state from the job row, never from memory.

    `store` is the object storage holding the files (prosaas.clients.storage), `backoff_base_seconds` the
    first wait after a transient error (RECEIPTS_BACKOFF_BASE_SECONDS).
    """

    def __init__(self, database, store, business_id: int, ids: Optional[list[int]], progress: JobProgress, *,
                 backoff_base_seconds: float, time_limit_s: Optional[float] = None):
        self.database = database
        self.store = store
        self.business_id = business_id
        self.time_limit_s = time_limit_s
        self.slowest_batch_s = 0.0
        self.ids = ids
        self.progress = progress
        self.base_delay = backoff_base_seconds

    def run(self) -> Optional[dict]:
        try:
            self._with_backoff(self._start)
            while True:
                batch_started = time.monotonic()
                outcome = self._with_backoff(self._delete_next_batch)
                self.slowest_batch_s = max(self.slowest_batch_s, time.monotonic() - batch_started)
                if outcome == "done":
                    return self._finish()
                if outcome in ("pause", "cancel"):
                    self.progress.honour(outcome)
                    return None
                if self._time_to_hand_on():
                    return self._hand_on()
        except Stopped:
            return None

    # Steps -------------------------------------------------------------------------
    def _start(self) -> None:
        """Snapshot what this job covers (first run only; a retried or resumed run keeps its cursor)."""
        with self.database.session() as session:
            job = job_store.get_job(session, self.progress.job_id)
            if job.cursor and "max_id" in job.cursor:
                return
            max_id, total = receipts_store.snapshot_targets(session, self.business_id, self.ids)
            cursor = _fresh_cursor(max_id)
            job_store.update_progress(session, job.id, total=total, processed=0, succeeded=0, failed=0,
                                      cursor=cursor, result=_result(cursor, total))
        log.info("RECEIPTS_DELETE start job_id=%s business_id=%s total=%d scope=%s", self.progress.job_id,
                 self.business_id, total, "all" if self.ids is None else f"{len(self.ids)}_ids")

    def _delete_next_batch(self) -> Optional[str]:
        database = self.database
        with database.session() as session:
            job = job_store.get_job(session, self.progress.job_id)
            cursor, total = dict(job.cursor), job.total
            batch = receipts_store.next_batch(session, self.business_id, after_id=cursor["after_id"],
                                              max_id=cursor["max_id"], ids=self.ids, size=BATCH_SIZE)
        if not batch:
            return "done"
        outcome = self.store.delete_many([key for _, key in batch])  # StorageUnavailable: back off, redo batch
        refused = [receipt_id for receipt_id, key in batch if key in outcome.failed]
        removable = [receipt_id for receipt_id, key in batch if key not in outcome.failed]
        with database.session() as session:
            deleted = receipts_store.delete_rows(session, self.business_id, removable)
            cursor.update(
                after_id=batch[-1][0], processed=cursor["processed"] + len(batch),
                deleted=cursor["deleted"] + deleted, failed=cursor["failed"] + len(refused),
                storage_deleted=cursor["storage_deleted"] + len(outcome.deleted),
                storage_failed=cursor["storage_failed"] + len(outcome.failed),
                failed_ids=(cursor["failed_ids"] + refused)[:MAX_LISTED_FAILURES],
            )
            action = job_store.update_progress(session, self.progress.job_id, processed=cursor["processed"],
                                               succeeded=cursor["deleted"], failed=cursor["failed"],
                                               cursor=cursor, result=_result(cursor, total))
        log.info("RECEIPTS_DELETE batch ids=%d-%d count=%d deleted=%d failed=%d storage_deleted=%d "
                 "storage_failed=%d progress=%d/%d percent=%.1f job_id=%s", batch[0][0], batch[-1][0], len(batch),
                 deleted, len(refused), len(outcome.deleted), len(outcome.failed), cursor["processed"], total,
                 100.0 * cursor["processed"] / total if total else 100.0, self.progress.job_id)
        for receipt_id, key in batch:
            if key in outcome.failed:
                log.warning("RECEIPTS_DELETE storage_failed receipt_id=%d reason=%s", receipt_id,
                            outcome.failed[key][:200])
        return action

    def _time_to_hand_on(self) -> bool:
        if not self.time_limit_s:
            return False
        margin = max(self.time_limit_s * HAND_ON_MARGIN_SHARE, self.slowest_batch_s * HAND_ON_MARGIN_BATCHES)
        # From when the message's run began (what the time limit counts), not from here: setting up (a first
        # message builds the storage client) is time the limit has already used.
        return self.progress.elapsed() >= self.time_limit_s - margin

    def _hand_on(self):
        job = self.progress.load()
        log.info("RECEIPTS_DELETE handed_on job_id=%s progress=%d/%d after_id=%s elapsed_s=%.1f", job.id,
                 job.processed, job.total, job.cursor["after_id"], self.progress.elapsed())
        return self.progress.hand_on()

    def _finish(self) -> dict:
        job = self.progress.load()
        result = _result(job.cursor, job.total)
        log.info("RECEIPTS_DELETE done job_id=%s deleted=%d failed=%d storage_deleted=%d storage_failed=%d",
                 job.id, result["deleted"], result["failed"], result["storage_deleted"], result["storage_failed"])
        return result

    # Transient errors --------------------------------------------------------------------
    def _with_backoff(self, step: Callable[[], T]) -> T:
        consecutive = 0
        while True:
            try:
                value = step()
                if consecutive:
                    log.info("RECEIPTS_DELETE recovered job_id=%s after_errors=%d", self.progress.job_id, consecutive)
                return value
            except TRANSIENT_ERRORS as exc:
                consecutive += 1
                if consecutive > MAX_CONSECUTIVE_TRANSIENT_ERRORS:
                    log.error("RECEIPTS_DELETE giving_up job_id=%s errors=%d error=%s", self.progress.job_id,
                              consecutive - 1, type(exc).__name__)
                    raise
                delay = backoff_delay(consecutive, self.base_delay)
                log.warning("RECEIPTS_DELETE backoff job_id=%s attempt=%d delay_s=%.1f error=%s", self.progress.job_id,
                            consecutive, delay, f"{type(exc).__name__}: {str(exc)[:200]}")
                time.sleep(delay)
                self._honour_request_if_any()

    def _honour_request_if_any(self) -> None:
        """Let a pause or cancel asked during an outage take effect instead of waiting it out."""
        try:
            action = self.progress.update()
        except TRANSIENT_ERRORS:
            return
        if action:
            self.progress.honour(action)
            raise Stopped(action)


def delete_receipts(database, store, business_id: int, ids: Optional[list[int]], *, backoff_base_seconds: float,
                    time_limit_s: Optional[float] = None):
    """Run (or continue) the tracked deletion job of the current message; hands on before `time_limit_s`."""
    progress = JobProgress.current()
    if progress is None:
        raise BadInput("receipt deletion runs only as a tracked job (start it with POST /api/receipts/delete)")
    return ReceiptDeletion(database, store, business_id, ids, progress, backoff_base_seconds=backoff_base_seconds,
                           time_limit_s=time_limit_s).run()
