"""Diagnostics, the service: start a ping job that walks the whole pipeline (follow it at /api/jobs/{id})."""
from __future__ import annotations

from prosaas.jobs import Enqueued, enqueue_tracked

from actors.diagnostics import diagnostic_ping


def start_ping(business_id: int, *, steps: int, step_ms: int, fail: bool) -> Enqueued:
    return enqueue_tracked(diagnostic_ping, business_id=business_id,
                           kwargs={"steps": steps, "step_ms": step_ms, "fail": fail})
