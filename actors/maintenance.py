"""Housekeeping of the job ledger: finished `background_jobs` rows are deleted after their retention."""
from __future__ import annotations

import dramatiq
from periodiq import cron

from actors.maintenance_work import prune_finished_jobs_now
from prosaas.runtime import broker_runtime


@dramatiq.actor(queue_name="maintenance", periodic=cron("23 * * * *"), max_retries=2, time_limit=30 * 60 * 1000)
def prune_finished_jobs() -> dict:
    runtime = broker_runtime()
    return prune_finished_jobs_now(runtime.database, retention_days=runtime.settings.jobs_retention_days,
                                   failed_retention_days=runtime.settings.failed_jobs_retention_days)
