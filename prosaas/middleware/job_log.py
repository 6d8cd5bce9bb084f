"""Structured, grep-able log lines for every job event (JOB_ENQUEUED, JOB_PICKED, JOB_DONE, ...)."""
from __future__ import annotations

import logging
import time

from dramatiq.errors import Retry
from dramatiq.middleware import Middleware

from prosaas.log_handler import gather_lines_per_loop_turn
from prosaas.logs import log_event
from prosaas.middleware.retries import failure_reason

log = logging.getLogger("prosaas.jobs")


def _ids(message) -> dict:
    return {"job_id": message.options.get("job_id", "-"), "business_id": message.options.get("business_id", "-"),
            "message_id": message.message_id}


class JobLog(Middleware):
    """Logs one line per job event (fields as data, see prosaas.logs); never message bodies or secrets."""

    def __init__(self, redeliveries=None):
        self.started: dict[str, float] = {}
        # redeliveries(message_id) -> int: crash redeliveries so far (prosaas.recovery counts them), so that
        # JOB_PICKED attempt= agrees with the job row's attempts. Asked for tracked jobs only.
        self.redeliveries = redeliveries

    def after_enqueue(self, broker, message, delay):
        if message.options.get("retries") or message.options.get("deferrals"):
            return  # logged as JOB_RETRY / JOB_DEFERRED by whoever re-enqueued it
        log_event(log, logging.INFO, "JOB_ENQUEUED", queue=message.queue_name, actor=message.actor_name,
                  **_ids(message), delay_ms=delay or 0)

    def before_process_message(self, broker, message):
        self.started[message.message_id] = time.monotonic()
        log_event(log, logging.INFO, "JOB_PICKED", queue=message.queue_name, job_id=message.options.get("job_id", "-"),
                  actor=message.actor_name, business_id=message.options.get("business_id", "-"),
                  message_id=message.message_id, attempt=self._attempt(message))

    def _attempt(self, message) -> int:
        attempt = message.options.get("retries", 0) + 1
        if self.redeliveries is not None and message.options.get("job_id"):
            try:
                attempt += self.redeliveries(message.message_id)
            except Exception:  # a log line never fails a job
                pass
        return attempt

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = self.started.pop(message.message_id, None)
        duration_ms = int((time.monotonic() - started) * 1000) if started else -1
        if exception is None:
            log_event(log, logging.INFO, "JOB_DONE", actor=message.actor_name, **_ids(message),
                      duration_ms=duration_ms)
        elif message.failed:
            log_event(log, _failure_level(broker, message, exception), "JOB_FAILED", actor=message.actor_name,
                      **_ids(message), duration_ms=duration_ms, reason=failure_reason(exception),
                      error=str(exception)[:300])
        else:
            log_event(log, logging.INFO if isinstance(exception, Retry) else logging.WARNING, "JOB_RETRY",
                      actor=message.actor_name, **_ids(message), retries=message.options.get("retries", 0),
                      reason=failure_reason(exception), error=str(exception)[:300])

    def after_worker_shutdown(self, broker, worker):
        gather_lines_per_loop_turn(False)  # the last gathered lines out; a worker process ends without atexit

    def after_skip_message(self, broker, message):
        self.started.pop(message.message_id, None)
        if message.failed:  # failed and skipped: only AgeLimit does that (`max_age`)
            log_event(log, logging.WARNING, "JOB_FAILED", actor=message.actor_name, **_ids(message), reason="max_age")


def _failure_level(broker, message, exception) -> int:
    """As Dramatiq's worker logs it: an exception the actor `throws` is expected (INFO), a `Retry` that ran
    out of retries is not an error of the code (WARNING); any other failure is an ERROR."""
    try:
        throws = message.options.get("throws") or broker.get_actor(message.actor_name).options.get("throws")
    except Exception:  # an actor unknown here
        throws = None
    if throws and isinstance(exception, throws):
        return logging.INFO
    return logging.WARNING if isinstance(exception, Retry) else logging.ERROR
