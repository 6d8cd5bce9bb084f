"""Reads and writes of `background_jobs` rows, one at a time: the decisions, and the named statements of
db/job_statements.py that carry them out (the group-committed writers use their batch twins)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db import job_statements as statements
from db.base import utcnow
from db.models.core import BackgroundJob, JobControl, JobStatus


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
    row = new_job_row(is_batch=is_batch, **fields)
    session.execute(statements.insert_job(), [row])
    return get_job(session, row["id"])


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
    result = session.execute(statements.claim_job(job_id, worker=worker, stale_before=stale_before, now=utcnow()))
    if result.rowcount == 1:
        return Claim(ClaimAction.RUN)
    return refusal(get_job(session, job_id))


def refusal(job: Optional[BackgroundJob]) -> Claim:
    """Why a delivery whose claim updated nothing must not run: no row, running elsewhere, or finished."""
    if job is None:
        return Claim(ClaimAction.SKIP, "no_row")
    if job.status == JobStatus.RUNNING:
        return Claim(ClaimAction.DEFER, "running_elsewhere", job)
    return Claim(ClaimAction.SKIP, job.status, job)


def take_over_from_dead_worker(session: Session, job_id: str, *, dead_worker: str, worker: str) -> bool:
    """Claim a job still marked running by a worker process known to be dead (a redelivery)."""
    return session.execute(statements.take_over_job(job_id, dead_worker=dead_worker, worker=worker,
                                                    now=utcnow())).rowcount == 1


def finish_job(session: Session, job_id: str, *, status: str, error: Optional[str] = None,
               reason: Optional[str] = None, result: Optional[dict] = None) -> bool:
    """Move a running (or queued, for messages that never ran) job to its end state."""
    return session.execute(statements.finish_job(job_id, status=status, now=utcnow(), error=error, reason=reason,
                                                 result=result)).rowcount == 1


def record_retry(session: Session, job_id: str, *, error: str, reason: str) -> None:
    """A failed attempt that will be retried: back to queued, error kept for the user to see."""
    session.execute(statements.retry_job(job_id, error=error, reason=reason, now=utcnow()))


def hand_on_job(session: Session, job_id: str, *, message_id: str) -> bool:
    """A running job goes on in a continuation message: queued for it, progress and cursor kept.

    The attempt is given back (the continuation's claim counts it again): handing on is not a retry.
    """
    return session.execute(statements.hand_on_job(job_id, message_id=message_id, now=utcnow())).rowcount == 1


def update_progress(session: Session, job_id: str, *, total: Optional[int] = None,
                    processed: Optional[int] = None, succeeded: Optional[int] = None,
                    failed: Optional[int] = None, cursor: Optional[dict] = None,
                    result: Optional[dict] = None) -> Optional[str]:
    """Write progress; returns the pending control request ('pause'/'cancel') if any."""
    values: dict[str, Any] = {}
    for name, value in (("total", total), ("processed", processed), ("succeeded", succeeded),
                        ("failed", failed), ("cursor", cursor), ("result", result)):
        if value is not None:
            values[name] = value
    session.execute(statements.record_progress(job_id, now=utcnow(), **values))
    return session.scalar(select(BackgroundJob.requested_action).where(BackgroundJob.id == job_id))


def stop_running_job(session: Session, job_id: str, *, status: str) -> None:
    """A batch job honoured a pause or cancel request between batches."""
    session.execute(statements.stop_job(job_id, status=status, now=utcnow()))


def touch_heartbeats(session: Session, job_ids: list[str]) -> None:
    if job_ids:
        session.execute(statements.touch_heartbeats(job_ids, now=utcnow()))


def request_control(session: Session, job: BackgroundJob, action: JobControl) -> BackgroundJob:
    """Apply pause/cancel to a job: at once if it is not running, as a request if it is."""
    if job.status in JobStatus.FINISHED:
        raise JobConflict(f"job is already {job.status}")
    change: dict[str, Any] = {}
    if action == JobControl.PAUSE:
        if not job.is_batch:
            raise JobConflict("only batch jobs can be paused")
        if job.status == JobStatus.PAUSED:
            return job
        change = {"status": JobStatus.PAUSED} if job.status == JobStatus.QUEUED \
            else {"requested_action": JobControl.PAUSE}
    elif action == JobControl.CANCEL:
        if job.status in (JobStatus.QUEUED, JobStatus.PAUSED):
            change = {"status": JobStatus.CANCELLED}
        elif job.is_batch:
            change = {"requested_action": JobControl.CANCEL}
        else:
            raise JobConflict("job is running and cannot be interrupted; it will finish on its own")
    _apply(session, job, statements.control_job(job.id, expected_status=job.status, now=utcnow(), **change))
    return job


def withdraw_request(session: Session, job: BackgroundJob) -> BackgroundJob:
    """A pause or cancel request not yet honoured by the running job is taken back."""
    _apply(session, job, statements.control_job(job.id, expected_status=job.status, now=utcnow()))
    return job


def _apply(session: Session, job: BackgroundJob, statement) -> None:
    """Run a statement decided from `job` as read; it changes nothing if the row moved on meanwhile."""
    if session.execute(statement).rowcount != 1:
        session.refresh(job)
        raise JobConflict(f"job is now {job.status}; try again")
    session.refresh(job)


def requeue_job_row(session: Session, job: BackgroundJob, *, message_id: str, allowed: tuple[str, ...]) -> None:
    """Put a paused or failed job back to queued for a new message (resume / retry)."""
    if job.status not in allowed:
        raise JobConflict(f"job is {job.status}; expected {' or '.join(allowed)}")
    _apply(session, job, statements.requeue_job(job.id, message_id=message_id, allowed=allowed, now=utcnow()))


def requeue_for_message(session: Session, job_id: str, *, message_id: str, allowed: tuple[str, ...]) -> bool:
    """A job back to queued for a message sent again (a requeued dead letter), if its status allows."""
    return session.execute(statements.requeue_job(job_id, message_id=message_id, allowed=allowed,
                                                  now=utcnow())).rowcount == 1


def set_message_id(session: Session, job_id: str, message_id: str) -> None:
    """The message that now carries a job whose row was requeued."""
    session.execute(statements.set_message_id(job_id, message_id=message_id, now=utcnow()))


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
        if session.execute(statements.abandon_job(job_id, worker=worker, now=utcnow())).rowcount:
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
    return session.execute(statements.resend_job(job, message_id=message_id, now=utcnow())).rowcount == 1


def delete_finished_batch(session: Session, *, statuses: tuple[str, ...], finished_before: dt.datetime,
                          batch_size: int) -> int:
    """Delete at most `batch_size` rows finished (in `statuses`) and untouched since `finished_before`.

    One short statement per call, so the caller commits between batches and no lock is held for long;
    rows another transaction holds are skipped (PostgreSQL) and left for the next run.
    """
    return session.execute(statements.delete_finished_jobs(statuses=statuses, finished_before=finished_before,
                                                           batch_size=batch_size)).rowcount
