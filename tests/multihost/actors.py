"""Actors for the multi-host suite, loaded into its workers with `--module tests.multihost.actors`.

`count_once` is deliberately not idempotent: every run that gets to its end adds a row to `mh_counts`.
Delivery is at least once (a worker cut off after its commit but before its job row says so is taken
over), so the effect is made once the way receipts deletion does it: in one transaction with its job
row, locked, which must still name this worker process as running it (else another took over: fenced)
and whose cursor must not already say the effect was made (else an earlier attempt made it: done).
"""
from __future__ import annotations

import logging
import time

import dramatiq
from sqlalchemy import text

from prosaas.broker_stack import installed_broker
from prosaas.middleware.tracking import WORKER_NAME, current_job_id
from prosaas.runtime import get_runtime

installed_broker()  # the real broker and middleware stack, installed by this process's entry point

log = logging.getLogger("tests.multihost")
COUNTS_TABLE = "CREATE TABLE IF NOT EXISTS mh_counts (job_id text NOT NULL, worker text NOT NULL, " \
               "at timestamptz NOT NULL DEFAULT now())"


@dramatiq.actor(queue_name="default", job_type="mh_count", max_retries=20, min_backoff=200, max_backoff=2000)
def count_once(business_id: int, ms: int = 150) -> None:
    time.sleep(ms / 1000)
    job_id = current_job_id.get()
    with get_runtime().database.transaction() as connection:
        row = connection.execute(text(
            "SELECT worker, status, cursor FROM background_jobs WHERE id = :job FOR UPDATE"), {"job": job_id}).first()
        if row is None or row.worker != WORKER_NAME or row.status != "running":
            log.warning("MH_COUNT_FENCED job_id=%s worker=%s", job_id, WORKER_NAME)  # another worker took over
            return
        if (row.cursor or {}).get("counted"):
            log.warning("MH_COUNT_ALREADY job_id=%s worker=%s", job_id, WORKER_NAME)  # an earlier attempt counted
            return
        connection.execute(text("INSERT INTO mh_counts (job_id, worker) VALUES (:job, :me)"),
                           {"job": job_id, "me": WORKER_NAME})
        connection.execute(text("UPDATE background_jobs SET cursor = CAST(:cursor AS json) WHERE id = :job"),
                           {"job": job_id, "cursor": '{"counted": true}'})
