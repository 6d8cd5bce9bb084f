"""Reads and writes of `background_jobs` rows: the one place that knows how a job's row changes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models.core import BackgroundJob, JobStatus


class JobConflict(Exception):
    """A control request that does not fit the job's current state (HTTP 409)."""


class ClaimAction(StrEnum):
    RUN = "run"      # the row is ours now: run the actor
    SKIP = "skip"    # no row, or the job is finished, paused or cancelled: ack without running
    DEFER = "defer"  # another live worker runs it: try again later


@dataclass(frozen=True)
class Claim:
    """What a worker should do with a delivered message, decided from its job row."""

    action: ClaimAction
    reason: str = ""
    job: Optional[BackgroundJob] = None

    def __post_init__(self):
        object.__setattr__(self, "action", ClaimAction(self.action))  # a misspelt action fails here


def new_job_row(*, job_id: str, business_id: int, type: str, actor_name: str, queue: str, message_id: str,
                args: dict[str, Any], is_batch: bool = False) -> dict[str, Any]:
    """Every column of a new queued job, defaults spelled out (the row is also answered without a read)."""
    now = utcnow()
    return dict(id=job_id, business_id=business_id, type=type, actor_name=actor_name, queue=queue,
                message_id=message_id, args=args, is_batch=is_batch, status=JobStatus.QUEUED,
                requested_action=None, total=0, processed=0, succeeded=0, failed=0, error=None,
                error_reason=None, attempts=0, cursor=None, result=None, worker=None, created_at=now,
                updated_at=now, started_at=None, finished_at=None, heartbeat_at=None)


def create_job(session: Session, *, is_batch: bool, **fields) -> BackgroundJob:
    job = BackgroundJob(**new_job_row(is_batch=is_batch, **fields))
    session.add(job)
    session.flush()
    return job


def create_batch_job_once(session: Session, **fields) -> tuple[BackgroundJob, bool]:
    """Create a batch job unless one of the same type is active for the business.

    Returns (job, created). A partial unique index backs this up against concurrent requests.
    """
    active = find_active_job(session, fields["business_id"], fields["type"])
    if active is not None:
        return active, False
    try:
        with session.begin_nested():
            job = create_job(session, is_batch=True, **fields)
        return job, True
    except IntegrityError:
        active = find_active_job(session, fields["business_id"], fields["type"])
        if active is None:
            raise
        return active, False


def find_active_job(session: Session, business_id: int, type: str) -> Optional[BackgroundJob]:
    return session.scalars(
        select(BackgroundJob).where(
            BackgroundJob.business_id == business_id, BackgroundJob.type == type,
            BackgroundJob.is_batch.is_(True), BackgroundJob.status.in_(JobStatus.ACTIVE),
        ).limit(1)
    ).first()


def get_job(session: Session | Connection, job_id: str, business_id: Optional[int] = None) -> Optional[BackgroundJob]:
    """A job by id; with business_id, only that business's job (others look absent)."""
    query = select(BackgroundJob).where(BackgroundJob.id == job_id)
    if business_id is not None:
        query = query.where(BackgroundJob.business_id == business_id)
    if isinstance(session, Connection):  # a Core hot path that needs a row: read it through the ORM
        return Session(bind=session, expire_on_commit=False).scalars(query).first()
    return session.scalars(query).first()


def list_jobs(session: Session, *, business_id: Optional[int] = None, status: Optional[str] = None,
              type: Optional[str] = None, limit: int = 50, offset: int = 0) -> list[BackgroundJob]:
    query = select(BackgroundJob)
    if business_id is not None:
        query = query.where(BackgroundJob.business_id == business_id)
    if status:
        query = query.where(BackgroundJob.status == status)
    if type:
        query = query.where(BackgroundJob.type == type)
    query = query.order_by(BackgroundJob.created_at.desc(), BackgroundJob.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(BackgroundJob.status, func.count()).group_by(BackgroundJob.status))
    return {status: count for status, count in rows}


def claim_for_run(session: Session, job_id: str, *, worker: str, stale_before: dt.datetime) -> Claim:
    """Mark a job running for this delivery, or say why the delivery must not run it."""
    now = utcnow()
    claimable = or_(
        BackgroundJob.status == JobStatus.QUEUED,
        and_(BackgroundJob.status == JobStatus.RUNNING,
             or_(BackgroundJob.heartbeat_at.is_(None), BackgroundJob.heartbeat_at < stale_before)),
    )
    result = session.execute(
        update(BackgroundJob).where(BackgroundJob.id == job_id, claimable).values(
            status=JobStatus.RUNNING, attempts=BackgroundJob.attempts + 1,
            started_at=func.coalesce(BackgroundJob.started_at, now), heartbeat_at=now,
            updated_at=now, worker=worker, finished_at=None,
        ).execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        return Claim("run")
    return refusal(get_job(session, job_id))


def refusal(job: Optional[BackgroundJob]) -> Claim:
    """Why a delivery whose claim updated nothing must not run: no row, running elsewhere, or finished."""
    if job is None:
        return Claim("skip", "no_row")
    if job.status == JobStatus.RUNNING:
        return Claim("defer", "running_elsewhere", job)
    return Claim("skip", job.status, job)


def take_over_from_dead_worker(session: Session, job_id: str, *, dead_worker: str, worker: str) -> bool:
    """Claim a job still marked running by a worker process known to be dead (a redelivery)."""
    now = utcnow()
    result = session.execute(
        update(BackgroundJob).where(BackgroundJob.id == job_id, BackgroundJob.status == JobStatus.RUNNING,
                                    BackgroundJob.worker == dead_worker)
        .values(attempts=BackgroundJob.attempts + 1, heartbeat_at=now, updated_at=now, worker=worker)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def finish_job(session: Session, job_id: str, *, status: str, error: Optional[str] = None,
               reason: Optional[str] = None, result: Optional[dict] = None) -> bool:
    """Move a running (or queued, for messages that never ran) job to its end state."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now, "heartbeat_at": now, "requested_action": None}
    if status in JobStatus.FINISHED:
        values["finished_at"] = now
    if error is not None or status == JobStatus.COMPLETED:
        values["error"] = error
        values["error_reason"] = reason
    if result is not None:
        values["result"] = result
    outcome = session.execute(
        update(BackgroundJob).where(
            BackgroundJob.id == job_id,
            BackgroundJob.status.in_((JobStatus.RUNNING, JobStatus.QUEUED)),
        ).values(**values).execution_options(synchronize_session=False)
    )
    return outcome.rowcount == 1


def record_retry(session: Session, job_id: str, *, error: str, reason: str) -> None:
    """A failed attempt that will be retried: back to queued, error kept for the user to see."""
    now = utcnow()
    session.execute(
        update(BackgroundJob).where(BackgroundJob.id == job_id, BackgroundJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.QUEUED, error=error, error_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def hand_on_job(session: Session, job_id: str, *, message_id: str) -> bool:
    """A running job goes on in a continuation message: queued for it, progress and cursor kept.

    The attempt is given back (the continuation's claim counts it again): handing on is not a retry.
    """
    now = utcnow()
    result = session.execute(
        update(BackgroundJob).where(BackgroundJob.id == job_id, BackgroundJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.QUEUED, message_id=message_id, attempts=BackgroundJob.attempts - 1,
                updated_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def update_progress(session: Session, job_id: str, *, total: Optional[int] = None,
                    processed: Optional[int] = None, succeeded: Optional[int] = None,
                    failed: Optional[int] = None, cursor: Optional[dict] = None,
                    result: Optional[dict] = None) -> Optional[str]:
    """Write progress; returns the pending control request ('pause'/'cancel') if any."""
    now = utcnow()
    values: dict[str, Any] = {"updated_at": now, "heartbeat_at": now}
    for name, value in (("total", total), ("processed", processed), ("succeeded", succeeded),
                        ("failed", failed), ("cursor", cursor), ("result", result)):
        if value is not None:
            values[name] = value
    session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id).values(**values)
                    .execution_options(synchronize_session=False))
    return session.scalar(select(BackgroundJob.requested_action).where(BackgroundJob.id == job_id))


def stop_running_job(session: Session, job_id: str, *, status: str) -> None:
    """A batch job honoured a pause or cancel request between batches."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "requested_action": None, "updated_at": now}
    if status == JobStatus.CANCELLED:
        values["finished_at"] = now
    session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id).values(**values)
                    .execution_options(synchronize_session=False))


def touch_heartbeats(session: Session, job_ids: list[str]) -> None:
    if job_ids:
        now = utcnow()
        session.execute(update(BackgroundJob).where(BackgroundJob.id.in_(job_ids),
                                                    BackgroundJob.status == JobStatus.RUNNING)
                        .values(heartbeat_at=now).execution_options(synchronize_session=False))


def request_control(session: Session, job: BackgroundJob, action: str) -> BackgroundJob:
    """Apply pause/cancel to a job: at once if it is not running, as a request if it is."""
    if job.status in JobStatus.FINISHED:
        raise JobConflict(f"job is already {job.status}")
    if action == "pause":
        if not job.is_batch:
            raise JobConflict("only batch jobs can be paused")
        if job.status == JobStatus.PAUSED:
            return job
        if job.status == JobStatus.QUEUED:
            job.status = JobStatus.PAUSED
        else:
            job.requested_action = "pause"
    elif action == "cancel":
        if job.status in (JobStatus.QUEUED, JobStatus.PAUSED):
            job.status = JobStatus.CANCELLED
            job.finished_at = utcnow()
            job.requested_action = None
        elif job.is_batch:
            job.requested_action = "cancel"
        else:
            raise JobConflict("job is running and cannot be interrupted; it will finish on its own")
    job.updated_at = utcnow()
    session.flush()
    return job


def requeue_job_row(session: Session, job: BackgroundJob, *, message_id: str, allowed: tuple[str, ...]) -> None:
    """Put a paused or failed job back to queued for a new message (resume / retry)."""
    if job.status not in allowed:
        raise JobConflict(f"job is {job.status}; expected {' or '.join(allowed)}")
    job.status = JobStatus.QUEUED
    job.requested_action = None
    job.message_id = message_id
    job.finished_at = None
    job.updated_at = utcnow()
    session.flush()


def stale_jobs(session: Session, *, queued_before: dt.datetime, heartbeat_before: dt.datetime,
               limit: int = 100) -> list[BackgroundJob]:
    """Queued jobs nobody picked up, and running jobs whose heartbeat stopped."""
    return list(session.scalars(select(BackgroundJob).where(or_(
        and_(BackgroundJob.status == JobStatus.QUEUED, BackgroundJob.updated_at < queued_before),
        and_(BackgroundJob.status == JobStatus.RUNNING, BackgroundJob.heartbeat_at < heartbeat_before),
    )).order_by(BackgroundJob.updated_at).limit(limit)))


def requeue_abandoned_jobs(session: Session, *, heartbeat_before: dt.datetime, is_alive) -> list[str]:
    """Running rows whose worker is dead and heartbeat long stopped go back to `queued`, error kept.

    The redelivered message (crash recovery) then claims the row; if no message ever comes, the
    row shows as a stale queued job in health instead of looking fine as `running` forever.
    """
    rows = session.execute(select(BackgroundJob.id, BackgroundJob.worker).where(
        BackgroundJob.status == JobStatus.RUNNING, BackgroundJob.heartbeat_at < heartbeat_before).limit(500)).all()
    moved = []
    for job_id, worker in rows:
        if worker and is_alive(worker):
            continue
        outcome = session.execute(update(BackgroundJob).where(
            BackgroundJob.id == job_id, BackgroundJob.status == JobStatus.RUNNING, BackgroundJob.worker == worker,
        ).values(status=JobStatus.QUEUED, error_reason="worker_lost", updated_at=utcnow(),
                 error=f"worker {worker} stopped sending heartbeats; waiting for the message to be redelivered")
            .execution_options(synchronize_session=False))
        if outcome.rowcount:
            moved.append(job_id)
    return moved


def jobs_owed_a_message(session: Session, *, queued_before: dt.datetime, heartbeat_before: dt.datetime,
                        limit: int = 500) -> list[BackgroundJob]:
    """Rows that should have a message by now: queued and untouched, or running without a heartbeat.

    The caller checks Redis for their messages and resends through `mark_resent` for those that have none.
    """
    return list(session.scalars(select(BackgroundJob).where(or_(
        and_(BackgroundJob.status == JobStatus.QUEUED, BackgroundJob.updated_at < queued_before),
        and_(BackgroundJob.status == JobStatus.RUNNING, BackgroundJob.heartbeat_at < heartbeat_before),
    )).order_by(BackgroundJob.updated_at).limit(limit)))


def mark_resent(session: Session, job: BackgroundJob, *, message_id: str) -> bool:
    """Record that a missing message is sent again, if the row is still exactly as it was read.

    The row goes (back) to `queued` for the new delivery to claim. False when anything changed the row
    since (a claim, a retry, another reconciler): then its message was only slow and nothing is resent.
    """
    now = utcnow()
    unchanged = [BackgroundJob.id == job.id, BackgroundJob.status == job.status,
                 BackgroundJob.updated_at == job.updated_at]
    if job.status == JobStatus.RUNNING:
        unchanged += [BackgroundJob.heartbeat_at == job.heartbeat_at,
                      BackgroundJob.worker.is_(None) if job.worker is None else BackgroundJob.worker == job.worker]
    outcome = session.execute(update(BackgroundJob).where(*unchanged).values(
        status=JobStatus.QUEUED, message_id=message_id, updated_at=now, error_reason="message_missing",
    ).execution_options(synchronize_session=False))
    return outcome.rowcount == 1


def delete_finished_batch(session: Session, *, statuses: tuple[str, ...], finished_before: dt.datetime,
                          batch_size: int) -> int:
    """Delete at most `batch_size` rows finished (in `statuses`) and untouched since `finished_before`.

    One short statement per call, so the caller commits between batches and no lock is held for long;
    rows another transaction holds are skipped (PostgreSQL) and left for the next run.
    """
    doomed = (select(BackgroundJob.id).where(BackgroundJob.status.in_(statuses),
                                             BackgroundJob.updated_at < finished_before)
              .limit(batch_size).with_for_update(skip_locked=True).scalar_subquery())
    outcome = session.execute(delete(BackgroundJob).where(BackgroundJob.id.in_(doomed))
                              .execution_options(synchronize_session=False))
    return outcome.rowcount
