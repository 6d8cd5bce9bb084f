"""Diagnostics, the work: a ping that reports progress steps, and fails on request, like a real job would."""
from __future__ import annotations

import time
from typing import Optional

from prosaas.errors import BadInput
from prosaas.jobs import JobProgress

MAX_PING_MS = 60_000  # steps x step_ms: a check of the pipeline, not a way to hold a worker for hours


def run_ping(business_id: int, *, steps: int, step_ms: int, fail: bool, progress: Optional[JobProgress]) -> dict:
    """Reports `steps` progress steps `step_ms` apart; with `fail`, fails (and retries) like a broken job."""
    if steps < 0 or step_ms < 0:
        raise BadInput("steps and step_ms must not be negative")
    if steps * step_ms > MAX_PING_MS:
        raise BadInput(f"steps x step_ms must be at most {MAX_PING_MS} ms")
    if progress and steps:
        progress.update(total=steps)
    for step in range(1, steps + 1):
        time.sleep(step_ms / 1000)
        if progress:
            progress.update(processed=step, succeeded=step)
    if fail:
        raise RuntimeError("diagnostic failure requested")
    return {"steps": steps, "business_id": business_id}
