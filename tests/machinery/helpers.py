"""Small helpers for job-machinery tests: read job rows, enqueue sample actors, wait for states."""
from __future__ import annotations

import secrets

from db import job_store
from prosaas.jobs import enqueue_tracked
from prosaas.runtime import get_runtime
from tests.support.processes import wait_for


def marker() -> str:
    return secrets.token_hex(6)


def job_row(job_id: str):
    with get_runtime().database.session() as session:
        return job_store.get_job(session, job_id)


def start_job(actor, business, **kwargs) -> str:
    return enqueue_tracked(actor, business_id=business.id, kwargs=kwargs).job_id


def wait_status(job_id: str, *statuses: str, timeout: float = 60):
    return wait_for(lambda: (lambda row: row if row and row.status in statuses else None)(job_row(job_id)),
                    timeout, interval=0.2, what=f"job {job_id} to be {'/'.join(statuses)}")


def retire_earlier_tests_rows() -> None:
    """Cancel every queued or running row left by earlier tests of this run (they share one database, and
    `clean_queues` empties Redis between them): a reconciler under test then sees only its own test's rows."""
    from sqlalchemy import text

    with get_runtime().database.transaction() as connection:
        connection.execute(text("UPDATE background_jobs SET status = 'cancelled' "
                                "WHERE status IN ('queued', 'running')"))
