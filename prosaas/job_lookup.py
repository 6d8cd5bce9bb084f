"""Finding jobs for operators: filtered pages of jobs, and one job's whole story (arguments, attempts, dead letter).

Arguments are shown here because only admin callers reach this module (the hardening rules: a tenant sees
reason codes, admins see the detail); they are never logged. Each function takes the runtime (or just the
database) it reads.
"""
from __future__ import annotations

from typing import Any, Optional

from db import job_store
from db.job_search import JobFilter, search_jobs
from prosaas.dead_letters import list_dead_letters
from prosaas.job_history import job_attempts
from prosaas.jobs import job_view

DEAD_LETTER_SCAN = 1000  # how many of a queue's newest dead letters are searched for a job's message


def admin_job_row(job) -> dict[str, Any]:
    return {**job_view(job), "actor": job.actor_name, "worker": job.worker}


def find_jobs(database, job_filter: JobFilter, *, before_id: Optional[str] = None,
              limit: int = 50) -> dict[str, Any]:
    """`GET /api/admin/jobs`: a page of matching jobs, newest first, and the `before_id` of the next page."""
    with database.session() as session:
        jobs = search_jobs(session, job_filter, before_id=before_id, limit=limit)
        rows = [admin_job_row(job) for job in jobs]
    return {"jobs": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}


def job_detail(runtime, job_id: str) -> Optional[dict[str, Any]]:
    """The job, its arguments, each recorded attempt (`attempt_history`: worker, start, end, error) and its dead letter if any."""
    with runtime.database.session() as session:
        job = job_store.get_job(session, job_id)
        if job is None:
            return None
        detail = {**admin_job_row(job), "args": job.args or {}, "cursor": job.cursor}
    detail["attempt_history"] = job_attempts(runtime.redis, runtime.keys, job_id)
    letters = [entry for entry in list_dead_letters(runtime, queue=detail["queue"], limit=DEAD_LETTER_SCAN)
               if entry["job_id"] == job_id]
    detail["dead_letter"] = letters[0] if letters else None
    return detail
