"""Job counts and durations for Prometheus, by actor, queue and outcome."""
from __future__ import annotations

import time

from dramatiq.middleware import Middleware

from prosaas.metrics import metrics


class JobMetrics(Middleware):
    def __init__(self):
        self.started: dict[str, float] = {}

    def before_process_message(self, broker, message):
        self.started[message.message_id] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = self.started.pop(message.message_id, None)
        outcome = "succeeded" if exception is None else ("failed" if message.failed else "retried")
        found = metrics()
        found["jobs"].labels(message.actor_name, message.queue_name, outcome).inc()
        if started is not None:
            found["duration"].labels(message.actor_name, message.queue_name).observe(time.perf_counter() - started)

    def after_skip_message(self, broker, message):
        self.started.pop(message.message_id, None)
        metrics()["jobs"].labels(message.actor_name, message.queue_name, "skipped").inc()
