"""JobHistory: every processed attempt counted into its queue's history buckets (prosaas/job_history.py)."""
from __future__ import annotations

import time

from dramatiq.middleware import Middleware

from prosaas.job_history import HistoryRecorder
from prosaas.middleware.retries import describe_error, failure_reason
from prosaas.middleware.tracking import WORKER_NAME


class JobHistory(Middleware):
    """Counts each attempt's outcome and duration per queue and minute; records a tracked job's attempts.

    Nothing is written on the job's path: counts go to the recorder, which a background thread flushes to
    Redis about once a second (one pipeline). Skipped deliveries (duplicates, no free slot) are not counted.

    Parameters:
      recorder: the process's HistoryRecorder.
    """

    def __init__(self, recorder: HistoryRecorder):
        self.recorder = recorder
        self.started: dict[str, tuple[float, float, int]] = {}  # message_id -> (perf counter, wall clock, attempt)

    def before_process_message(self, broker, message):
        # The attempt number now: Retries has counted this attempt by the time after_process_message runs.
        self.started[message.message_id] = (time.perf_counter(), time.time(), message.options.get("retries", 0) + 1)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = self.started.pop(message.message_id, None)
        if started is None:
            return
        duration_ms = (time.perf_counter() - started[0]) * 1000
        outcome = "succeeded" if exception is None else ("failed" if message.failed else "retried")
        job_id = message.options.get("job_id")
        attempt = None
        if job_id:
            attempt = {"attempt": started[2], "worker": WORKER_NAME,
                       "started_at": started[1], "finished_at": started[1] + duration_ms / 1000,
                       "outcome": outcome, "queue": message.queue_name,
                       "error": describe_error(exception) if exception is not None else None,
                       "reason": failure_reason(exception) if exception is not None else None}
        self.recorder.record(message.queue_name, outcome, duration_ms, job_id=job_id, attempt=attempt)

    def after_skip_message(self, broker, message):
        self.started.pop(message.message_id, None)

    def after_worker_shutdown(self, broker, worker):
        self.recorder.flush()
