"""Job counts, durations and jobs in progress for Prometheus, by actor, queue and outcome."""
from __future__ import annotations

import os
import time

from dramatiq.middleware import Middleware

from prosaas.metrics import mark_process_dead, metrics


class JobMetrics(Middleware):
    def __init__(self):
        self.started: dict[str, float] = {}

    def before_process_message(self, broker, message):
        self.started[message.message_id] = time.perf_counter()
        metrics()["in_progress"].labels(message.actor_name, message.queue_name).inc()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = self.started.pop(message.message_id, None)
        outcome = "succeeded" if exception is None else ("failed" if message.failed else "retried")
        found = metrics()
        found["jobs"].labels(message.actor_name, message.queue_name, outcome).inc()
        if started is not None:
            found["in_progress"].labels(message.actor_name, message.queue_name).dec()
            found["duration"].labels(message.actor_name, message.queue_name).observe(time.perf_counter() - started)

    def after_skip_message(self, broker, message):
        if self.started.pop(message.message_id, None) is not None:
            metrics()["in_progress"].labels(message.actor_name, message.queue_name).dec()
        metrics()["jobs"].labels(message.actor_name, message.queue_name, "skipped").inc()

    def after_worker_shutdown(self, broker, worker):
        # This process's live gauges must not outlive it (its counters stay: totals never go back).
        mark_process_dead(os.getpid())
