"""Tracked jobs: the one way to start one, report its progress, and pause/resume/cancel/retry it.

Nothing here reaches for process-wide handles: a job is started on its actor's broker, controlled through the
broker a caller hands in, and reports progress through the broker of the worker running it; the database and
Redis are that broker's runtime (`build_broker(runtime)` records it).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import dramatiq
import redis
from dramatiq import Message
from dramatiq.errors import BrokerConnectionError as DramatiqConnectionError

from db import job_store
from db.base import new_id
from db.job_inserts import JobInsertWriter
from db.models.core import BackgroundJob, JobControl, JobStatus
from prosaas.accept import AcceptWriter
from prosaas.dead_letters import discard_dead_letter
from prosaas.errors import BrokerUnavailable, error_class
from prosaas.middleware.tracking import HandedOn, current_job_id, current_job_started
from prosaas.queue_stats import consumer_map, live_workers

log = logging.getLogger("prosaas.jobs")
BROKER_ERRORS = (redis.ConnectionError, redis.TimeoutError, DramatiqConnectionError, OSError)


@dataclass(frozen=True)
class Enqueued:
    """The job a request started (or the active batch job returned instead: created False)."""

    job_id: str
    status: str
    created: bool
    _row: dict[str, Any] = field(repr=False, default=None)  # a new job's columns, as committed
    _job: Optional[BackgroundJob] = field(repr=False, default=None)

    @property
    def job(self) -> BackgroundJob:
        """The job as a detached row object (built on demand: most callers need only its id and status)."""
        return self._job if self._job is not None else BackgroundJob(**self._row)


def enqueue_tracked(actor, *, business_id: int, kwargs: dict[str, Any], queue_name: Optional[str] = None,
                    delay_ms: Optional[int] = None) -> Enqueued:
    """Record the job row, then send its message (in that order: never a message without a row).

    Batch actors (``batch=True``) get at most one active job per business and type: asking again
    returns the active one. If the broker is down the row is marked failed and BrokerUnavailable raised.
    The row goes to the database of the actor's broker's runtime, the message to that broker.
    """
    broker = actor.broker
    runtime = broker.runtime
    job_id = new_id()
    job_type = actor.options.get("job_type", actor.actor_name)
    message = actor.message_with_options(kwargs={"business_id": business_id, **kwargs},
                                         job_id=job_id, business_id=business_id)
    if queue_name and queue_name != message.queue_name:
        message = message.copy(queue_name=queue_name)
    fields = dict(job_id=job_id, business_id=business_id, type=job_type, actor_name=actor.actor_name,
                  queue=message.queue_name, message_id=message.message_id, args=kwargs)
    if actor.options.get("batch"):
        with runtime.database.session() as session:
            job, created = job_store.create_batch_job_once(session, **fields)
        enqueued = Enqueued(job.id, job.status, created, _job=job)
    elif delay_ms is None and not runtime.database.is_sqlite and broker.can_send_in_group(message):
        # One hop: committed with the rows of concurrent requests, then sent with their messages.
        row = job_store.new_job_row(**fields)
        try:
            accept_writer(runtime.database, broker).accept(row, message)
        except BROKER_ERRORS as exc:
            _enqueue_failed(runtime.database, job_id, exc)
        return Enqueued(job_id, row["status"], True, _row=row)
    else:  # committed together with the rows of concurrent requests (one durable commit for all)
        row = job_store.new_job_row(**fields)
        _row_writer(runtime.database).insert(row)
        enqueued = Enqueued(job_id, row["status"], True, _row=row)
    if enqueued.created:
        _send(broker, message, job_id, delay_ms)
    return enqueued


def enqueue_tracked_or_undo(actor, *, business_id: int, kwargs: dict[str, Any], undo: Callable[[], None],
                            queue_name: Optional[str] = None, delay_ms: Optional[int] = None) -> Enqueued:
    """`enqueue_tracked`, for a job that serves a domain row the caller has just written: if the job cannot be
    started, `undo()` takes that row back before the error reaches the caller.

    The one compensation for "write a row, enqueue its job": a row whose job never started would wait for ever
    (or turn a sender's retry into a duplicate). The caller's error stays the one raised (BrokerUnavailable:
    answer 503); if the undo fails as well (the database went too), that is logged and the first error raised.

    >>> enqueue_tracked_or_undo(send_broadcast, business_id=7, kwargs={"broadcast_id": 3},
    ...                         undo=lambda: discard_broadcast(3))
    """
    try:
        return enqueue_tracked(actor, business_id=business_id, kwargs=kwargs, queue_name=queue_name,
                               delay_ms=delay_ms)
    except Exception as exc:
        try:
            undo()
        except Exception as undo_error:
            log.error("JOB_ENQUEUE_UNDO_FAILED actor=%s business_id=%s error=%s cause=%s", actor.actor_name,
                      business_id, type(undo_error).__name__, type(exc).__name__)
        raise


_row_writers: dict[object, JobInsertWriter] = {}


def _row_writer(database) -> JobInsertWriter:
    """This process's group-commit writer of new job rows for `database`."""
    writer = _row_writers.get(database)
    if writer is None:
        writer = _row_writers.setdefault(database, JobInsertWriter(database))
    return writer


_accept_writers: dict[tuple, AcceptWriter] = {}


def accept_writer(database, broker) -> AcceptWriter:
    """This process's one-hop writer of new job rows for `database` and their messages for `broker`."""
    writer = _accept_writers.get((database, broker))
    if writer is None:
        writer = _accept_writers.setdefault((database, broker), AcceptWriter(database, broker))
    return writer


def _send(broker, message, job_id: str, delay_ms: Optional[int]) -> bool:
    """Whether the message reached the broker (if not, the job is failed with reason broker_unavailable)."""
    try:
        broker.enqueue(message, delay=delay_ms)
    except BROKER_ERRORS as exc:
        _enqueue_failed(broker.runtime.database, job_id, exc)
        return False
    return True


def _enqueue_failed(database, job_id: str, exc: BaseException):
    with database.session() as session:
        job_store.finish_job(session, job_id, status=JobStatus.FAILED, reason="broker_unavailable",
                             error=f"could not enqueue: broker unreachable ({type(exc).__name__})")
    log.error("JOB_ENQUEUE_FAILED job_id=%s reason=broker_unavailable", job_id)
    raise BrokerUnavailable("the job broker (Redis) is unreachable; try again shortly") from exc


def _resend(broker, job: BackgroundJob) -> BackgroundJob:
    """Send a requeued job's message again; returns its row as it was when the message went out (queued).

    A worker may claim the job a moment later: the caller answers with the state it accepted, not a race.
    """
    # Built from the row, not from the actor: the web role need not import worker-only actor modules
    # (`prosaas worker --module ...`) to retry their jobs, just as a dead letter is requeued.
    message = Message(queue_name=job.queue, actor_name=job.actor_name, args=(),
                      kwargs={"business_id": job.business_id, **(job.args or {})},
                      options={"job_id": job.id, "business_id": job.business_id})
    database = broker.runtime.database
    with database.session() as session:
        job_store.set_message_id(session, job.id, message.message_id)
        queued = job_store.get_job(session, job.id)
    if not _send(broker, message, job.id, None):
        with database.session() as session:  # failed at once (broker unreachable): say so
            return job_store.get_job(session, job.id)
    return queued


def control_job(job_id: str, business_id: Optional[int], action: JobControl, *, broker) -> Optional[BackgroundJob]:
    """Pause, resume, cancel or retry a job of this business (None business = admin). None if absent.

    `broker` sends a resumed or retried job's message; its runtime holds the job rows and dead letters.
    Raises job_store.JobConflict when the action does not fit the job's state.
    """
    runtime = broker.runtime
    with runtime.database.session() as session:
        job = job_store.get_job(session, job_id, business_id)
        if job is None:
            return None
        if action in (JobControl.PAUSE, JobControl.CANCEL):
            job_store.request_control(session, job, action)
            log.info("JOB_CONTROL action=%s job_id=%s status=%s requested=%s", action, job.id, job.status,
                     job.requested_action or "-")
            return job
        resuming = action == JobControl.RESUME
        allowed = (JobStatus.PAUSED,) if resuming else (JobStatus.FAILED, JobStatus.CANCELLED)
        if resuming and job.status == JobStatus.RUNNING and job.requested_action == JobControl.PAUSE:
            return job_store.withdraw_request(session, job)  # pause not yet honoured: simply withdraw it
        failed_message_id = job.message_id
        job_store.requeue_job_row(session, job, message_id="pending", allowed=allowed)
    if action == JobControl.RETRY:  # its dead letter must not be requeued as well: that would run the job twice
        discard_dead_letter(runtime, failed_message_id)
    resent = _resend(broker, job)
    log.info("JOB_CONTROL action=%s job_id=%s status=%s", action, job_id, resent.status)
    return resent


class JobProgress:
    """Progress reporting from inside a tracked actor.

    `broker` is the worker's (its runtime's database holds the row; a continuation is sent to it).

    >>> progress = JobProgress.current()
    >>> progress.update(total=1000, processed=50, succeeded=50, cursor={"after_id": 50})
    'pause' | 'cancel' | None   # a control request the batch job should honour now
    """

    def __init__(self, job_id: str, broker, *, started: Optional[float] = None):
        self.job_id = job_id
        self.broker = broker
        self.database = broker.runtime.database
        #: time.monotonic() when this message's run began (its time limit counts from then)
        self.started = time.monotonic() if started is None else started

    @classmethod
    def current(cls) -> Optional["JobProgress"]:
        """The job of the message this worker thread is processing, on the worker's broker; None if untracked."""
        job_id = current_job_id.get()
        return cls(job_id, dramatiq.get_broker(), started=current_job_started.get()) if job_id else None

    def elapsed(self) -> float:
        """Seconds since this message's run began: what its time limit has already used up."""
        return time.monotonic() - self.started

    def load(self) -> BackgroundJob:
        with self.database.session() as session:
            return job_store.get_job(session, self.job_id)

    def update(self, **counts) -> Optional[str]:
        with self.database.session() as session:
            return job_store.update_progress(session, self.job_id, **counts)

    def hand_on(self) -> HandedOn:
        """Go on in a continuation message (same job id, cursor and progress kept): return what this gives.

        For a long batch job nearing its time limit: the continuation gets a whole time limit of its own.
        """
        from dramatiq.middleware import CurrentMessage

        message = CurrentMessage.get_current_message()
        continuation = message.copy(message_id=str(uuid.uuid4()),
                                    options={"continuation": message.options.get("continuation", 0) + 1})
        with self.database.session() as session:
            if not job_store.hand_on_job(session, self.job_id, message_id=continuation.message_id):
                return HandedOn(self.job_id, None)  # no longer running as ours: nothing to go on with
        # If Redis refuses it, the exception retries this message, which resumes from the cursor as well.
        self.broker.enqueue(continuation)
        return HandedOn(self.job_id, continuation.message_id)

    def honour(self, action: JobControl) -> None:
        """Stop between batches as asked: pause keeps the cursor, cancel ends the job."""
        status = JobStatus.PAUSED if action == JobControl.PAUSE else JobStatus.CANCELLED
        with self.database.session() as session:
            job_store.stop_running_job(session, self.job_id, status=status)
        log.info("JOB_%s job_id=%s", status.upper(), self.job_id)


def job_staleness(runtime, job: BackgroundJob, *, consumed_queues: Optional[set[str]] = None) -> dict[str, Any]:
    """`{"stale", "stale_reason"}` for a business's own view: why its job is not moving, if it is stuck.

    A queued job whose queue no live worker consumes cannot start; a running job whose heartbeat stopped
    (or a queued one put back after that) lost its worker. `consumed_queues` defaults to the live workers'
    (read from `runtime`'s Redis), the heartbeat cut-off is its JOB_STALE_AFTER_SECONDS.
    """
    reason = None
    if job.status == JobStatus.RUNNING:
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=runtime.settings.job_stale_after_seconds)
        if job.heartbeat_at is None or _aware(job.heartbeat_at) < cutoff:
            reason = "worker lost"
    elif job.status == JobStatus.QUEUED:
        if consumed_queues is None:
            consumed_queues = {queue for queue, workers in consumer_map(live_workers(runtime)).items() if workers}
        if job.queue not in consumed_queues:
            reason = f"no worker consumes queue {job.queue}"
        elif job.error_reason == "worker_lost":
            reason = "worker lost"
    return {"stale": reason is not None, "stale_reason": reason}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def job_view(job: BackgroundJob, *, detail: bool = True) -> dict[str, Any]:
    """The public JSON shape of a job (README, "HTTP API").

    `detail=False` (what a tenant sees): the error is only its class and reason code; the text, which may
    quote internal hosts, ports and URLs, is for operators.
    """
    def iso(value):
        return value.isoformat() if value else None

    return {
        "id": job.id, "type": job.type, "status": job.status, "business_id": job.business_id,
        "queue": job.queue,
        "progress": {"total": job.total, "processed": job.processed, "succeeded": job.succeeded,
                     "failed": job.failed, "percent": job.percent},
        "error": job.error if detail else error_class(job.error), "error_class": error_class(job.error),
        "error_reason": job.error_reason, "attempts": job.attempts,
        "requested_action": job.requested_action, "result": job.result,
        "created_at": iso(job.created_at), "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at), "heartbeat_at": iso(job.heartbeat_at),
        "updated_at": iso(job.updated_at),
    }
