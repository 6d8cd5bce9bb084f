"""Structured, grep-able log lines for every job event (JOB_ENQUEUED, JOB_PICKED, JOB_DONE, ...)."""
from __future__ import annotations

import logging
import time

from dramatiq.middleware import Middleware

from prosaas.middleware.retries import failure_reason

log = logging.getLogger("prosaas.jobs")


def _ids(message) -> str:
    job_id = message.options.get("job_id", "-")
    business_id = message.options.get("business_id", "-")
    return f"job_id={job_id} business_id={business_id} message_id={message.message_id}"


class JobLog(Middleware):
    """Logs one line per job event; never message bodies or secrets."""

    def __init__(self, redeliveries=None):
        self.started: dict[str, float] = {}
        # redeliveries(message_id) -> int: crash redeliveries so far (prosaas.recovery counts them), so that
        # JOB_PICKED attempt= agrees with the job row's attempts. Asked for tracked jobs only.
        self.redeliveries = redeliveries

    def after_enqueue(self, broker, message, delay):
        if message.options.get("retries") or message.options.get("deferrals"):
            return  # logged as JOB_RETRY / JOB_DEFERRED by whoever re-enqueued it
        log.info("JOB_ENQUEUED queue=%s actor=%s %s delay_ms=%s", message.queue_name, message.actor_name,
                 _ids(message), delay or 0)

    def before_process_message(self, broker, message):
        self.started[message.message_id] = time.monotonic()
        log.info("JOB_PICKED queue=%s job_id=%s actor=%s business_id=%s message_id=%s attempt=%d",
                 message.queue_name, message.options.get("job_id", "-"), message.actor_name,
                 message.options.get("business_id", "-"), message.message_id, self._attempt(message))

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
            log.info("JOB_DONE actor=%s %s duration_ms=%d", message.actor_name, _ids(message), duration_ms)
        elif message.failed:
            log.error("JOB_FAILED actor=%s %s duration_ms=%d reason=%s error=%r", message.actor_name,
                      _ids(message), duration_ms, failure_reason(exception), str(exception)[:300])
        else:
            log.warning("JOB_RETRY actor=%s %s retries=%d reason=%s error=%r", message.actor_name,
                        _ids(message), message.options.get("retries", 0), failure_reason(exception),
                        str(exception)[:300])

    def after_skip_message(self, broker, message):
        self.started.pop(message.message_id, None)
