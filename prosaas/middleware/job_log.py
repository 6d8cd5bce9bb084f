"""Structured, grep-able log lines for every job event (JOB_ENQUEUED, JOB_PICKED, JOB_DONE, ...)."""
from __future__ import annotations

import logging
import time

from dramatiq.errors import Retry
from dramatiq.middleware import Middleware

from prosaas.middleware.retries import failure_reason

log = logging.getLogger("prosaas.jobs")


def _ids(message) -> str:
    job_id = message.options.get("job_id", "-")
    business_id = message.options.get("business_id", "-")
    return f"job_id={job_id} business_id={business_id} message_id={message.message_id}"


class JobLog(Middleware):
    """Logs one line per job event; never message bodies or secrets."""

    def __init__(self):
        self.started: dict[str, float] = {}

    def after_enqueue(self, broker, message, delay):
        if message.options.get("retries") or message.options.get("deferrals"):
            return  # logged as JOB_RETRY / JOB_DEFERRED by whoever re-enqueued it
        log.info("JOB_ENQUEUED queue=%s actor=%s %s delay_ms=%s", message.queue_name, message.actor_name,
                 _ids(message), delay or 0)

    def before_process_message(self, broker, message):
        self.started[message.message_id] = time.monotonic()
        log.info("JOB_PICKED queue=%s job_id=%s actor=%s business_id=%s message_id=%s attempt=%d",
                 message.queue_name, message.options.get("job_id", "-"), message.actor_name,
                 message.options.get("business_id", "-"), message.message_id,
                 message.options.get("retries", 0) + 1)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = self.started.pop(message.message_id, None)
        duration_ms = int((time.monotonic() - started) * 1000) if started else -1
        if exception is None:
            log.info("JOB_DONE actor=%s %s duration_ms=%d", message.actor_name, _ids(message), duration_ms)
        elif message.failed:
            log.log(_failure_level(broker, message, exception), "JOB_FAILED actor=%s %s duration_ms=%d reason=%s "
                    "error=%r", message.actor_name, _ids(message), duration_ms, failure_reason(exception),
                    str(exception)[:300])
        else:
            log.log(logging.INFO if isinstance(exception, Retry) else logging.WARNING,
                    "JOB_RETRY actor=%s %s retries=%d reason=%s error=%r", message.actor_name,
                    _ids(message), message.options.get("retries", 0), failure_reason(exception),
                    str(exception)[:300])

    def after_skip_message(self, broker, message):
        self.started.pop(message.message_id, None)
        if message.failed:  # failed and skipped: only AgeLimit does that (`max_age`)
            log.warning("JOB_FAILED actor=%s %s reason=max_age", message.actor_name, _ids(message))


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
