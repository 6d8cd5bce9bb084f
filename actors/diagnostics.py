"""A diagnostic job that walks the whole pipeline: queue, worker, progress, failure, retry."""
from __future__ import annotations

import time

import dramatiq

from prosaas.errors import BadInput
from prosaas.jobs import JobProgress
from prosaas.settings import get_settings


MAX_PING_MS = 60_000  # steps x step_ms: a check of the pipeline, not a way to hold a worker for hours


@dramatiq.actor(queue_name="default", job_type="diagnostic", time_limit=2 * 60 * 1000, store_results=True,
                per_business=lambda: get_settings().diagnostics_per_business)
def diagnostic_ping(business_id: int, steps: int = 0, step_ms: int = 0, fail: bool = False) -> dict:
    """Reports `steps` progress steps `step_ms` apart; with `fail`, fails (and retries) like a broken job."""
    if steps < 0 or step_ms < 0:
        raise BadInput("steps and step_ms must not be negative")
    if steps * step_ms > MAX_PING_MS:
        raise BadInput(f"steps x step_ms must be at most {MAX_PING_MS} ms")
    progress = JobProgress.current()
    if progress and steps:
        progress.update(total=steps)
    for step in range(1, steps + 1):
        time.sleep(step_ms / 1000)
        if progress:
            progress.update(processed=step, succeeded=step)
    if fail:
        raise RuntimeError("diagnostic failure requested")
    return {"steps": steps, "business_id": business_id}
