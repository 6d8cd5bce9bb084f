"""What the housekeeping actors do: delete finished `background_jobs` rows after their retention, in batches."""
from __future__ import annotations

import datetime as dt
import logging
import time

from db import job_store
from db.base import utcnow
from db.models.core import JobStatus

log = logging.getLogger("prosaas.maintenance")

PRUNE_BATCH_ROWS = 1000         # rows per transaction: each delete holds its row locks for milliseconds
PRUNE_MAX_ROWS_PER_RUN = 500_000  # a huge backlog is worked off over several hourly runs
PRUNE_PAUSE_SECONDS = 0.05      # between batches, so live job writes are never starved


def prune_finished_jobs_now(database, *, retention_days: int, failed_retention_days: int,
                            batch_rows: int = PRUNE_BATCH_ROWS, max_rows: int = PRUNE_MAX_ROWS_PER_RUN) -> dict:
    """Delete completed/cancelled rows after `retention_days` (JOBS_RETENTION_DAYS) and failed ones after
    `failed_retention_days` (FAILED_JOBS_RETENTION_DAYS)."""
    now = utcnow()
    rules = (("completed", (JobStatus.COMPLETED, JobStatus.CANCELLED), retention_days),
             ("failed", (JobStatus.FAILED,), failed_retention_days))
    removed = {name: 0 for name, _statuses, _days in rules}
    for name, statuses, days in rules:
        cutoff = now - dt.timedelta(days=days)
        while sum(removed.values()) < max_rows:
            with database.session() as session:
                deleted = job_store.delete_finished_batch(session, statuses=statuses, finished_before=cutoff,
                                                          batch_size=batch_rows)
            removed[name] += deleted
            if deleted < batch_rows:
                break
            time.sleep(PRUNE_PAUSE_SECONDS)
    log.info("JOBS_PRUNED completed=%d failed=%d retention_days=%d failed_retention_days=%d",
             removed["completed"], removed["failed"], retention_days, failed_retention_days)
    return {"deleted": removed}
