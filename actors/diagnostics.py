"""A diagnostic job that walks the whole pipeline: queue, worker, progress, failure, retry."""
from __future__ import annotations

import dramatiq

from actors.diagnostics_work import run_ping
from prosaas.jobs import JobProgress
from prosaas.runtime import broker_runtime


@dramatiq.actor(queue_name="default", job_type="diagnostic", time_limit=2 * 60 * 1000, store_results=True,
                per_business=lambda: broker_runtime().settings.diagnostics_per_business)
def diagnostic_ping(business_id: int, steps: int = 0, step_ms: int = 0, fail: bool = False) -> dict:
    """Reports `steps` progress steps `step_ms` apart; with `fail`, fails (and retries) like a broken job."""
    return run_ping(business_id, steps=steps, step_ms=step_ms, fail=fail, progress=JobProgress.current())
