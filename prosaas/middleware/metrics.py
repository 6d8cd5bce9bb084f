"""Job counts, durations and jobs in progress for Prometheus, by actor, queue and outcome."""
from __future__ import annotations

import os
import time

from dramatiq.middleware import Middleware

from prosaas.metrics import mark_process_dead, metrics


class JobMetrics(Middleware):
    """Per-job Prometheus updates; the labelled children are looked up once per (actor, queue)."""

    def __init__(self):
        self.started: dict[str, float] = {}
        self._children: dict[tuple, tuple] = {}

    def _for(self, message) -> tuple:
        """(in_progress gauge, duration histogram, {outcome: jobs counter}) of the message's actor and queue."""
        return self._children_of(message.actor_name, message.queue_name)

    def _children_of(self, actor_name: str, queue_name: str) -> tuple:
        key = (actor_name, queue_name)
        children = self._children.get(key)
        if children is None:
            found = metrics()
            children = (found["in_progress"].labels(*key), found["duration"].labels(*key),
                        {outcome: found["jobs"].labels(*key, outcome)
                         for outcome in ("succeeded", "failed", "retried", "skipped")})
            self._children[key] = children
        return children

    def after_worker_boot(self, broker, worker):
        # A labelled gauge has no sample until its labels are used: create them so that an idle worker
        # reports prosaas_jobs_in_progress 0 instead of nothing.
        for actor in list(broker.actors.values()):
            self._children_of(actor.actor_name, actor.queue_name)

    def before_process_message(self, broker, message):
        self.started[message.message_id] = time.perf_counter()
        self._for(message)[0].inc()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = self.started.pop(message.message_id, None)
        outcome = "succeeded" if exception is None else ("failed" if message.failed else "retried")
        in_progress, duration, jobs = self._for(message)
        jobs[outcome].inc()
        if started is not None:
            in_progress.dec()
            duration.observe(time.perf_counter() - started)

    def after_skip_message(self, broker, message):
        in_progress, _duration, jobs = self._for(message)
        if self.started.pop(message.message_id, None) is not None:
            in_progress.dec()
        jobs["skipped"].inc()

    def after_worker_shutdown(self, broker, worker):
        # This process's live gauges must not outlive it (its counters stay: totals never go back).
        mark_process_dead(os.getpid())
