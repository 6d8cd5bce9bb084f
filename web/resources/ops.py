"""Operators' JSON: job-system health, worker config, dead letters (admin token only)."""
from __future__ import annotations

from typing import Optional

import falcon
from pydantic import BaseModel, Field

from prosaas.dead_letters import list_dead_letters, requeue_dead_letter
from prosaas.health import health_report
from prosaas.queue_stats import live_workers, worker_config
from prosaas.settings import ALL_QUEUES
from web.spec import api


class DeadLetterQuery(BaseModel):
    queue: Optional[str] = Field(default=None, pattern="^(" + "|".join(ALL_QUEUES) + ")$")
    limit: int = Field(default=100, ge=1, le=1000)


class JobsHealth:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(tags=["ops"])
    def on_get(self, req, resp):
        """Broker/database reachability, per-queue counts, workers, scheduler, stale jobs."""
        report = health_report(self.runtime)
        resp.media = report
        if report["status"] != "ok" and not (report["database"]["ok"] and report["broker"]["ok"]):
            resp.status = falcon.HTTP_503


class WorkerConfig:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(tags=["ops"])
    def on_get(self, req, resp):
        """The queues each live worker really consumes (from the workers' heartbeats)."""
        # `role` is this web process's; everything else is what the live workers report of themselves.
        resp.media = {"role": self.runtime.settings.service_role, **worker_config(live_workers(self.runtime))}


class DeadLetters:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(query=DeadLetterQuery, tags=["ops"])
    def on_get(self, req, resp, query: DeadLetterQuery):
        """Failed messages with their reason (retries exhausted, time limit, crashed worker)."""
        resp.media = {"dead_letters": list_dead_letters(self.runtime, queue=query.queue, limit=query.limit)}


class DeadLetterRequeue:
    auth = "admin"

    def __init__(self, broker):
        self.broker = broker  # sends the message again

    @api.validate(tags=["ops"])
    def on_post(self, req, resp, message_id: str):
        """Send a dead letter back to its queue with a fresh retry budget."""
        requeued = requeue_dead_letter(self.broker, message_id)
        if requeued is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No dead letter {message_id}.")
        resp.status = falcon.HTTP_202
        resp.media = requeued
