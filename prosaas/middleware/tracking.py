"""Job tracking: a delivered message with a `job_id` moves its `background_jobs` row through its states."""
from __future__ import annotations

import contextvars
import datetime as dt
import logging
import random
import socket
import os
import time

from dramatiq.middleware import Middleware, MiddlewareError, SkipMessage
from sqlalchemy.exc import SQLAlchemyError

from db import job_store
from db.base import utcnow
from db.group_commit import database_unreachable
from db.job_batcher import JobWriteBatcher, JobWriteFailed
from db.job_store import ClaimAction
from db.models.core import JobStatus
from prosaas.middleware.retries import describe_error, failure_reason

log = logging.getLogger("prosaas.jobs")

#: The job id of the message the current worker thread/greenlet is processing.
current_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_job_id", default=None)
#: When (time.monotonic()) that message's run began: just before Dramatiq's TimeLimit starts its own clock,
#: so a job measuring its time left from here never thinks it has more than the limit gives it.
current_job_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("current_job_started",
                                                                                   default=None)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
# Seconds between attempts to record an outcome. While the database is unreachable the last delay repeats
# for as long as it takes; any other error gives up after these.
OUTCOME_WRITE_DELAYS = (0.5, 1, 2, 4, 5, 5)


class HandedOn:
    """What a tracked actor returns when its job goes on in a continuation message (same job id).

    The row was already handed to the continuation (queued, progress kept): no outcome is recorded.
    """

    def __init__(self, job_id: str, message_id: str):
        self.job_id, self.message_id = job_id, message_id


class ClaimUnavailable(MiddlewareError):
    """The job row could not be claimed (database unreachable): this delivery fails and is retried.

    A MiddlewareError, because Dramatiq logs and ignores any other exception from a `before_` hook
    and would run the actor unclaimed, leaving its row `queued` for ever.
    """


class JobTracking(Middleware):
    """Claims the job row before the actor runs and records the outcome after it.

    A delivery whose row is already finished (a duplicate) is skipped; one whose row is running
    with a fresh heartbeat elsewhere is deferred; one whose runner stopped heartbeating takes over.

    Actor options:
      job_type(str): the job's user-visible type (default: the actor name).
      batch(bool): at most one active job of this type per business; pause/resume/cancel allowed.
    """

    def __init__(self, database, *, stale_after_seconds: int, worker_alive=None):
        self.database = database
        self.stale_after = dt.timedelta(seconds=stale_after_seconds)
        # worker_alive(name, job heartbeat) -> bool: is the worker process that marked a job running alive?
        self.worker_alive = worker_alive or (lambda name, heartbeat_at=None: True)
        self.writes = JobWriteBatcher(database)  # claims and outcomes of this process, group-committed
        self.running: dict[str, str] = {}  # message_id -> job_id, for heartbeats
        self._tokens: dict[str, tuple[contextvars.Token, contextvars.Token]] = {}
        # Deliveries skipped because their job had already finished: these messages are done for good, so
        # PruneRedeliveries (prosaas/worker_maintenance.py) drops their crash-redelivery counts too.
        self.skipped_as_finished: set[str] = set()

    @property
    def actor_options(self):
        return {"job_type", "batch"}

    def running_job_ids(self) -> list[str]:
        return list(self.running.values())

    def before_process_message(self, broker, message):
        job_id = message.options.get("job_id")
        if not job_id:
            return
        try:
            claim = self.writes.claim(job_id, worker=WORKER_NAME, stale_before=utcnow() - self.stale_after)
            if (claim.action is ClaimAction.DEFER and claim.job.worker and claim.job.worker != WORKER_NAME
                    and not self.worker_alive(claim.job.worker, claim.job.heartbeat_at)):
                claim = self._take_over(job_id, claim)
        except SQLAlchemyError as exc:
            log.warning("JOB_CLAIM_FAILED job_id=%s reason=database_unavailable error=%s", job_id, _error_name(exc))
            raise ClaimUnavailable(f"could not claim job {job_id}: the database is unreachable") from exc
        if claim.action is ClaimAction.RUN:
            self.running[message.message_id] = job_id
            self._tokens[message.message_id] = (current_job_id.set(job_id), current_job_started.set(time.monotonic()))
            return
        if claim.action is ClaimAction.DEFER:
            delay = int(self.stale_after.total_seconds() * 1000 / 2 + random.randint(0, 1000))
            log.info("JOB_DEFERRED job_id=%s reason=%s delay_ms=%d", job_id, claim.reason, delay)
            broker.enqueue(message.copy(options={"deferrals": message.options.get("deferrals", 0) + 1}),
                           delay=delay)
        else:
            log.info("JOB_SKIPPED job_id=%s reason=%s message_id=%s", job_id, claim.reason, message.message_id)
            self.skipped_as_finished.add(message.message_id)
        raise SkipMessage(claim.reason)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        job_id = self.running.pop(message.message_id, None)
        tokens = self._tokens.pop(message.message_id, None)
        if tokens is not None:
            for variable, token in zip((current_job_id, current_job_started), tokens):
                try:
                    variable.reset(token)
                except ValueError:
                    variable.set(None)
        if job_id is None:
            return
        if exception is None and isinstance(result, HandedOn):
            log.info("JOB_HANDED_ON job_id=%s message_id=%s", job_id, result.message_id)
            return
        # The work is done and its message is acked once this returns: keep trying to record the outcome. A
        # database that is down holds this thread until it is back (the worker cannot claim anything else
        # meanwhile); giving up would leave the row `running` with no message left to finish it. Stopped
        # here, the worker never acks the message, so recovery runs the job again.
        attempt = 0
        while True:
            try:
                self._record_outcome(job_id, message, result, exception)
                if attempt:
                    log.info("JOB_OUTCOME_RECORDED job_id=%s after_attempts=%d", job_id, attempt + 1)
                return
            except SQLAlchemyError as exc:
                if attempt >= len(OUTCOME_WRITE_DELAYS) and not database_unreachable(exc):
                    log.error("JOB_OUTCOME_NOT_RECORDED job_id=%s error=%s", job_id, _error_name(exc))
                    raise
                delay = OUTCOME_WRITE_DELAYS[min(attempt, len(OUTCOME_WRITE_DELAYS) - 1)]
                if attempt < len(OUTCOME_WRITE_DELAYS) or attempt % 12 == 0:  # then about once a minute
                    log.warning("JOB_OUTCOME_WRITE_FAILED job_id=%s attempt=%d retry_in_s=%s error=%s", job_id,
                                attempt + 1, delay, _error_name(exc))
                attempt += 1
                time.sleep(delay)

    def _take_over(self, job_id: str, claim: job_store.Claim) -> job_store.Claim:
        """The row is running for a worker process known to be dead: claim it unless another did first."""
        with self.database.transaction(relaxed_durability=True) as connection:
            taken = job_store.take_over_from_dead_worker(connection, job_id, dead_worker=claim.job.worker,
                                                         worker=WORKER_NAME)
        if not taken:
            return claim
        log.info("JOB_TAKEN_OVER job_id=%s dead_worker=%s", job_id, claim.job.worker)
        return job_store.Claim(ClaimAction.RUN)

    def _record_outcome(self, job_id, message, result, exception) -> None:
        if exception is None:
            self.writes.finish(job_id, status=JobStatus.COMPLETED, result=result if isinstance(result, dict) else None)
        elif message.failed:
            self.writes.finish(job_id, status=JobStatus.FAILED, error=describe_error(exception),
                               reason=failure_reason(exception))
        else:
            self.writes.record_retry(job_id, error=describe_error(exception), reason=failure_reason(exception))

    def after_skip_message(self, broker, message):
        self.running.pop(message.message_id, None)
        self._tokens.pop(message.message_id, None)
        job_id = message.options.get("job_id")
        if job_id and message.failed:  # dead-lettered unrun (AgeLimit, `max_age`): the row must not stay queued
            self.writes.finish(job_id, status=JobStatus.FAILED, reason="max_age",
                               error="the message was older than its max_age when a worker took it")


def _error_name(exc: BaseException) -> str:
    """The database error's class name (a failed batch's own cause, not the batch wrapper)."""
    return type(exc.__cause__ if isinstance(exc, JobWriteFailed) and exc.__cause__ else exc).__name__
