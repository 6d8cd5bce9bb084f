"""Actors for the multi-host suite, loaded into its workers with `--module tests.multihost.actors`.

`count_once` is deliberately not idempotent: every run that gets to its end adds a row to `mh_counts`.
Its one guard is the job row's claim: the row is locked and must still name this worker process as
the one running it, in the same transaction as the insert. A worker cut off from the network whose
jobs another worker took over therefore finishes none of them a second time when it comes back: its
late transaction finds the row claimed by someone else (or, if it already held the lock, PostgreSQL's
idle_in_transaction_session_timeout ends it so the other worker can proceed).
"""
from __future__ import annotations

import logging
import time

import dramatiq
from sqlalchemy import text

import prosaas.broker  # noqa: F401  (the real broker and middleware stack)
from prosaas.middleware.tracking import WORKER_NAME, current_job_id
from prosaas.runtime import get_runtime

log = logging.getLogger("tests.multihost")
COUNTS_TABLE = "CREATE TABLE IF NOT EXISTS mh_counts (job_id text NOT NULL, worker text NOT NULL, " \
               "at timestamptz NOT NULL DEFAULT now())"


@dramatiq.actor(queue_name="default", job_type="mh_count", max_retries=20, min_backoff=200, max_backoff=2000)
def count_once(business_id: int, ms: int = 150) -> None:
    time.sleep(ms / 1000)
    job_id = current_job_id.get()
    with get_runtime().database.transaction() as connection:
        claimed = connection.execute(text(
            "SELECT 1 FROM background_jobs WHERE id = :job AND worker = :me AND status = 'running' FOR UPDATE"),
            {"job": job_id, "me": WORKER_NAME}).first()
        if claimed is None:  # taken over by another worker while we were cut off: its run counts, not ours
            log.warning("MH_COUNT_FENCED job_id=%s worker=%s", job_id, WORKER_NAME)
            return
        connection.execute(text("INSERT INTO mh_counts (job_id, worker) VALUES (:job, :me)"),
                           {"job": job_id, "me": WORKER_NAME})
