"""The operators' whole picture in one dict: health, schedule, live and failed jobs, dead letters.

One function feeds the dashboard page, `GET /api/admin/overview` and `prosaas info`, so the three
always show the same thing. It reads the runtime it is handed.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import pendulum
from periodiq import cron

from db import job_store
from db.base import utcnow
from db.models.core import JobStatus
from prosaas.dead_letters import list_dead_letters
from prosaas.health import health_report
from prosaas.job_history import recent_rates
from prosaas.jobs import job_view

ACTIVE_STATUSES = (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.PAUSED)


def parse_moment(value) -> Optional[dt.datetime]:
    """An aware datetime from an ISO string or epoch seconds (None stays None)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    parsed = dt.datetime.fromisoformat(str(value).replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def relative_time(value) -> str:
    """'12s ago' / 'in 3m' / 'in 7.3h' for an ISO time or epoch seconds; '-' when unknown."""
    moment = parse_moment(value)
    if moment is None:
        return "-"
    seconds = (moment - dt.datetime.now(dt.timezone.utc)).total_seconds()
    span = abs(seconds)
    if span < 1:  # "0s ago" / "in 0s" read as a stale or stuck tick; it is simply due now
        return "now"
    text = (f"{span:.0f}s" if span < 90 else f"{span / 60:.0f}m" if span < 5400 else
            f"{span / 3600:.1f}h" if span < 172800 else f"{span / 86400:.0f}d")
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _next_tick(spec: Optional[str], last_next: Optional[str]) -> Optional[str]:
    """The next tick from the cron spec (the stored one goes stale once it has passed)."""
    if not spec:
        return last_next
    try:
        return str(cron(spec).next_valid_date(pendulum.now("UTC")))
    except Exception:
        return last_next


def schedule_view(scheduler: dict[str, Any]) -> list[dict[str, Any]]:
    """Each periodic actor known to a scheduler or ever fired: spec, last tick, next tick."""
    specs: dict[str, Optional[str]] = {}
    for instance in scheduler.get("instances", []):
        specs.update(instance.get("schedule") or {name: None for name in instance.get("actors", [])})
    for name, tick in scheduler.get("ticks", {}).items():
        specs[name] = specs.get(name) or tick.get("spec")
    rows = []
    for name in sorted(specs):
        tick = scheduler.get("ticks", {}).get(name, {})
        rows.append({"actor": name, "spec": specs[name], "last_tick": tick.get("last_tick"),
                     "next_tick": _next_tick(specs[name], tick.get("next_tick")),
                     "fired_by": tick.get("fired_by")})
    return rows


def _duration_s(job, now: dt.datetime) -> Optional[float]:
    if job.started_at is None:
        return None
    return round(((job.finished_at or now) - job.started_at).total_seconds(), 1)


def _job_row(job, now: dt.datetime) -> dict[str, Any]:
    return {**job_view(job), "actor": job.actor_name, "worker": job.worker, "duration_s": _duration_s(job, now)}


def recent_jobs(database, *, active_limit: int = 50, finished_limit: int = 20,
                failed_limit: int = 20) -> dict[str, list]:
    """Active jobs (running first), the latest finished ones, and the latest failures."""
    now = utcnow()
    with database.session() as session:
        active = [job for status in ACTIVE_STATUSES
                  for job in job_store.list_jobs(session, status=status, limit=active_limit)][:active_limit]
        finished = [job for job in job_store.list_jobs(session, limit=finished_limit + active_limit)
                    if job.status not in ACTIVE_STATUSES][:finished_limit]
        failed = job_store.list_jobs(session, status=JobStatus.FAILED, limit=failed_limit)
        return {"jobs": [_job_row(job, now) for job in active + finished],
                "failed_jobs": [_job_row(job, now) for job in failed]}


def overview(runtime, *, dead_letter_limit: int = 50) -> dict[str, Any]:
    """Everything the dashboard shows; parts whose backend is down are left out, never raised."""
    report = health_report(runtime)
    picture: dict[str, Any] = {"generated_at": utcnow().isoformat(), "health": report,
                               "schedule": [], "jobs": [], "failed_jobs": [], "dead_letters": [], "rates": {}}
    if report["broker"]["ok"]:
        picture["rates"] = recent_rates(runtime.redis, runtime.keys, list(report.get("queues", {})))
        picture["schedule"] = schedule_view(report.get("scheduler", {}))
        picture["dead_letters"] = list_dead_letters(runtime, limit=dead_letter_limit)
    if report["database"]["ok"]:
        picture.update(recent_jobs(runtime.database))
    return picture
