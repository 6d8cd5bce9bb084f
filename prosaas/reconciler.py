"""The reconciler: PostgreSQL is the ledger. A tracked job owed a message that Redis no longer has is sent again.

Redis can lose messages (a restart without persistence, a failover to a replica that missed the last
writes, FLUSHDB, a lost append-only file) and a web process can die between its commit and its send.
The job row survives all of these; this finds rows that have gone `RECONCILE_AFTER_SECONDS` without a
message anywhere and resends them under the same job id and message id.

Never a second run of a job whose message was only slow: a row is resent only if it is still exactly as
read before Redis was searched (`job_store.mark_resent`), and if both copies arrive after all, the
worker's claim in PostgreSQL runs the job once and skips (or defers) the other copy.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Callable, Iterable
from uuid import uuid4

from dramatiq import Message

from db import job_store
from db.base import utcnow
from db.models.core import BackgroundJob, JobStatus
from prosaas.message_presence import jobs_with_a_message

log = logging.getLogger("prosaas.reconciler")

BATCH_ROWS = 500  # rows examined per run; a bigger backlog of missing messages takes several runs


class Reconciler:
    """Resends the messages of tracked jobs that Redis lost; one instance at a time, cluster-wide.

    Parameters:
      client, keys: Redis client and our key namer; database: the job rows' database;
      queues: every queue a message may be in; reconcile_after_seconds: how long a row may go without
      a message; stale_after_seconds: a running row's heartbeat older than this has stopped;
      is_worker_alive(worker, heartbeat_at) -> bool: is the process that marked a row running alive?

    `run_if_due(broker)` is called from every worker's heartbeat; a lease in Redis lets one of them
    run it every `interval_seconds`. Should Redis lose that lease too, two runs may overlap: each
    resend is still decided by one conditional row update in PostgreSQL.

    >>> reconciler.run_once(broker)
    ['9f0c…']   # the job ids sent again
    """

    def __init__(self, client, keys, database, queues: Iterable[str], *, reconcile_after_seconds: int,
                 stale_after_seconds: int, is_worker_alive: Callable[..., bool] = lambda *a: False):
        self.client, self.keys, self.database = client, keys, database
        self.queues = list(queues)
        self.reconcile_after = dt.timedelta(seconds=reconcile_after_seconds)
        self.heartbeat_stopped_after = dt.timedelta(seconds=max(reconcile_after_seconds, stale_after_seconds))
        self.interval_seconds = min(30.0, max(1.0, reconcile_after_seconds / 2))
        self.is_worker_alive = is_worker_alive

    def run_if_due(self, broker, owner: str) -> list[str]:
        if not self.client.set(self.keys("reconciler", "lock"), owner, nx=True,
                               px=int(self.interval_seconds * 1000)):
            return []
        return self.run_once(broker)

    def run_once(self, broker) -> list[str]:
        """Resend every job found owed a message and without one; returns their job ids."""
        now = utcnow()
        with self.database.session() as session:
            rows = job_store.jobs_owed_a_message(session, queued_before=now - self.reconcile_after,
                                                 heartbeat_before=now - self.heartbeat_stopped_after,
                                                 limit=BATCH_ROWS)
            session.expunge_all()
        rows = [row for row in rows if row.status == JobStatus.QUEUED
                or not (row.worker and self.is_worker_alive(row.worker, row.heartbeat_at))]
        if rows:
            present = jobs_with_a_message(self.client, self.keys.namespace,
                                          [*self.queues, *(row.queue for row in rows)], [row.id for row in rows])
            rows = [row for row in rows if row.id not in present]
        resent = [row.id for row in rows if self._resend(broker, row)]
        self.client.hset(self.keys("reconciler"), mapping={"last_run_at": time.time()})
        return resent

    def _resend(self, broker, row: BackgroundJob) -> bool:
        message_id = row.message_id if row.message_id and row.message_id != "pending" else str(uuid4())
        with self.database.session() as session:
            if not job_store.mark_resent(session, row, message_id=message_id):
                return False  # changed since we read it: its message was only slow
        message = Message(queue_name=row.queue, actor_name=row.actor_name, args=(),
                          kwargs={"business_id": row.business_id, **(row.args or {})},
                          options={"job_id": row.id, "business_id": row.business_id}, message_id=message_id)
        broker.enqueue(message)
        log.warning("JOB_RESENT reason=message_missing job_id=%s actor=%s queue=%s was=%s", row.id, row.actor_name,
                    row.queue, row.status)
        self.client.hincrby(self.keys("reconciler"), "resent_total", 1)
        _count_resent()
        return True


def _count_resent() -> None:
    try:
        from prosaas.metrics import metrics

        metrics()["resent"].labels("message_missing").inc()
    except Exception:  # metrics are a view; a missing multiprocess dir must not stop a resend
        log.debug("metrics unavailable", exc_info=True)


def reconciler_status(client, keys) -> dict:
    """What health and the dashboard show: resends so far (since Redis last lost its data) and the last run."""
    raw = client.hgetall(keys("reconciler"))
    values = {key.decode(): value.decode() for key, value in raw.items()}
    last = float(values["last_run_at"]) if "last_run_at" in values else None
    return {"resent_total": int(values.get("resent_total", 0)),
            "last_run_age_s": round(time.time() - last, 1) if last else None}
