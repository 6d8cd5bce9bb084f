"""Every statement that changes a `background_jobs` row, by name, each batch form beside its single-row twin.

Like Procrastinate's sql/queries.sql, each statement has a `-- name --` comment and a one-line description.
Single-row forms are SQLAlchemy Core (PostgreSQL and SQLite); the `*_BATCH` twins are PostgreSQL text applying
the same rule to many rows at once (the group-committed writers, db/job_batcher.py and db/job_inserts.py).
Only db/job_store.py and those writers execute them: no other code changes a job row.
tests/machinery/test_job_statements.py runs each twin over the same rows and compares what they leave.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional

from sqlalchemy import JSON, case, delete, func, insert, or_, select, update
from sqlalchemy.sql import Delete, Insert, Update

from db.models.core import BackgroundJob, JobStatus

J = BackgroundJob
TABLE = BackgroundJob.__table__
COLUMNS = [column.name for column in TABLE.columns]
_JSON_COLUMNS = {column.name for column in TABLE.columns if isinstance(column.type, JSON)}


def _update(job_id: str, *where) -> Update:
    return update(J).where(J.id == job_id, *where).execution_options(synchronize_session=False)


# -- insert_job -- a new queued job, every column given (db/job_store.new_job_row)
def insert_job() -> Insert:
    return insert(TABLE)


def insert_jobs_batch(rows: list[dict[str, Any]]) -> tuple[str, tuple]:
    """insert_job for many rows: one multi-row INSERT (faster than SQLAlchemy's: bench/README.md).

    The rows travel as ONE JSON parameter that PostgreSQL turns into `background_jobs` records: psycopg2
    adapts each parameter separately (~1 µs, ~5 µs a datetime: ~60 µs of the web process's CPU a row with one
    parameter per column), the JSON encoder does a whole row in a few µs. A timestamp goes as its ISO text.
    """
    return _INSERT_JOBS_FROM_JSON, (json.dumps(rows, default=_json_value),)


_INSERT_JOBS_FROM_JSON = (f"INSERT INTO {TABLE.name} ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} "
                          f"FROM json_populate_recordset(NULL::{TABLE.name}, %s)")


def _json_value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"a job row holds a {type(value).__name__}, which is not JSON")


# -- claim_job -- mark a job running for a delivery: it is queued, or running with a heartbeat older than
#    stale_before (or none); the claim counts an attempt and names the worker.
def claim_job(job_id: str, *, worker: str, stale_before: dt.datetime, now: dt.datetime) -> Update:
    claimable = case((J.status == JobStatus.QUEUED, True),
                     (J.status == JobStatus.RUNNING, or_(J.heartbeat_at.is_(None), J.heartbeat_at < stale_before)),
                     else_=False)
    return _update(job_id, claimable).values(
        status=JobStatus.RUNNING, attempts=J.attempts + 1, started_at=func.coalesce(J.started_at, now),
        heartbeat_at=now, updated_at=now, worker=worker, finished_at=None)


# Status tests are CASE expressions, which no status index can serve (see job_batcher.PLAN_BY_PRIMARY_KEY).
CLAIM_JOBS_BATCH = (
    "UPDATE background_jobs AS j SET status = 'running', attempts = j.attempts + 1, "
    "started_at = COALESCE(j.started_at, %(now)s), heartbeat_at = %(now)s, updated_at = %(now)s, "
    "worker = c.worker, finished_at = NULL "
    "FROM unnest(%(ids)s::varchar[], %(workers)s::varchar[], %(stale)s::timestamptz[]) "
    "AS c(id, worker, stale_before) "
    "WHERE j.id = c.id AND CASE j.status WHEN 'queued' THEN true WHEN 'running' THEN "
    "(j.heartbeat_at IS NULL OR j.heartbeat_at < c.stale_before) ELSE false END "
    "RETURNING j.id"
)


# -- finish_job -- a running (or queued, never run) job to its outcome: completed clears the error, failed
#    keeps it; a result given replaces the row's.
def finish_job(job_id: str, *, status: str, now: dt.datetime, error: Optional[str] = None,
               reason: Optional[str] = None, result: Optional[dict] = None) -> Update:
    values: dict[str, Any] = {"status": status, "updated_at": now, "heartbeat_at": now, "requested_action": None}
    if status in JobStatus.FINISHED:
        values["finished_at"] = now
    if error is not None or status == JobStatus.COMPLETED:
        values["error"], values["error_reason"] = error, reason
    if result is not None:
        values["result"] = result
    finishable = case((J.status.in_((JobStatus.RUNNING, JobStatus.QUEUED)), True), else_=False)
    return _update(job_id, finishable).values(**values)


# finish_job(status=completed) for many rows; a NULL result leaves the row's result as it is.
COMPLETE_JOBS_BATCH = (
    "UPDATE background_jobs AS j SET status = 'completed', updated_at = %(now)s, heartbeat_at = %(now)s, "
    "finished_at = %(now)s, requested_action = NULL, error = NULL, error_reason = NULL, "
    "result = COALESCE(CAST(r.result AS json), j.result) "
    "FROM unnest(%(ids)s::varchar[], %(results)s::text[]) AS r(id, result) "
    "WHERE j.id = r.id AND CASE j.status WHEN 'running' THEN true WHEN 'queued' THEN true ELSE false END"
)


# -- retry_job -- a failed attempt that will be retried: running back to queued, its error kept.
def retry_job(job_id: str, *, error: str, reason: str, now: dt.datetime) -> Update:
    return _update(job_id, J.status == JobStatus.RUNNING).values(
        status=JobStatus.QUEUED, error=error, error_reason=reason, updated_at=now)


# -- hand_on_job -- a running job goes on in a continuation message: queued for it, progress and cursor
#    kept, the attempt given back (the continuation's claim counts it again: handing on is not a retry).
def hand_on_job(job_id: str, *, message_id: str, now: dt.datetime) -> Update:
    return _update(job_id, J.status == JobStatus.RUNNING).values(
        status=JobStatus.QUEUED, message_id=message_id, attempts=J.attempts - 1, updated_at=now, heartbeat_at=now)


# -- take_over_job -- a redelivery claims a job still running for a worker process known to be dead.
def take_over_job(job_id: str, *, dead_worker: str, worker: str, now: dt.datetime) -> Update:
    return _update(job_id, J.status == JobStatus.RUNNING, J.worker == dead_worker).values(
        attempts=J.attempts + 1, heartbeat_at=now, updated_at=now, worker=worker)


# -- abandon_job -- a running job whose worker died and stopped heartbeating goes back to queued.
def abandon_job(job_id: str, *, worker: Optional[str], now: dt.datetime) -> Update:
    return _update(job_id, J.status == JobStatus.RUNNING, J.worker == worker).values(
        status=JobStatus.QUEUED, error_reason="worker_lost", updated_at=now,
        error=f"worker {worker} stopped sending heartbeats; waiting for the message to be redelivered")


# -- touch_heartbeats -- the running jobs of a live worker are still being worked on.
def touch_heartbeats(job_ids: list[str], *, now: dt.datetime) -> Update:
    return (update(J).where(J.id.in_(job_ids), J.status == JobStatus.RUNNING).values(heartbeat_at=now)
            .execution_options(synchronize_session=False))


# -- record_progress -- counters, cursor or result written by the running actor (a heartbeat too).
def record_progress(job_id: str, *, now: dt.datetime, **fields) -> Update:
    return _update(job_id).values(updated_at=now, heartbeat_at=now, **fields)


# -- stop_job -- a batch job honoured a pause or cancel request between batches.
def stop_job(job_id: str, *, status: str, now: dt.datetime) -> Update:
    values: dict[str, Any] = {"status": status, "requested_action": None, "updated_at": now}
    if status == JobStatus.CANCELLED:
        values["finished_at"] = now
    return _update(job_id).values(**values)


# -- control_job -- pause/cancel at once (a job not running) or as a request (`requested_action`), or
#    withdraw a request; only while the job is still in the status the decision was made on.
def control_job(job_id: str, *, expected_status: str, now: dt.datetime, status: Optional[str] = None,
                requested_action: Optional[str] = None) -> Update:
    values: dict[str, Any] = {"requested_action": requested_action, "updated_at": now}
    if status is not None:
        values["status"] = status
        if status in JobStatus.FINISHED:
            values["finished_at"] = now
    return _update(job_id, J.status == expected_status).values(**values)


# -- requeue_job -- a job back to queued for a new message: resume (paused), retry (failed, cancelled),
#    a requeued dead letter; only from the statuses allowed.
def requeue_job(job_id: str, *, message_id: str, allowed: tuple[str, ...], now: dt.datetime) -> Update:
    return _update(job_id, J.status.in_(allowed)).values(
        status=JobStatus.QUEUED, requested_action=None, message_id=message_id, finished_at=None, updated_at=now)


# -- set_message_id -- the message that now carries a queued job (sent after its row was requeued).
def set_message_id(job_id: str, *, message_id: str, now: dt.datetime) -> Update:
    return _update(job_id).values(message_id=message_id, updated_at=now)


# -- resend_job -- the reconciler sends a missing message again: the row (back) to queued for it, only if
#    nothing changed the row since it was read (a claim, a retry, another reconciler).
def resend_job(job: BackgroundJob, *, message_id: str, now: dt.datetime) -> Update:
    unchanged = [J.status == job.status, J.updated_at == job.updated_at]
    if job.status == JobStatus.RUNNING:
        unchanged += [J.heartbeat_at == job.heartbeat_at,
                      J.worker.is_(None) if job.worker is None else J.worker == job.worker]
    return _update(job.id, *unchanged).values(status=JobStatus.QUEUED, message_id=message_id, updated_at=now,
                                              error_reason="message_missing")


# -- delete_finished_jobs -- prune at most `batch_size` rows finished (in `statuses`) and untouched since
#    `finished_before`; rows another transaction holds are skipped (PostgreSQL), left for the next run.
def delete_finished_jobs(*, statuses: tuple[str, ...], finished_before: dt.datetime, batch_size: int) -> Delete:
    doomed = (select(J.id).where(J.status.in_(statuses), J.updated_at < finished_before)
              .limit(batch_size).with_for_update(skip_locked=True).scalar_subquery())
    return delete(J).where(J.id.in_(doomed)).execution_options(synchronize_session=False)
