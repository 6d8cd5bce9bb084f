"""Worker presence: the heartbeat (Dramatiq's and ours), the worker registry, start and stop lines, final stats."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time

from dramatiq.middleware import Middleware

from db.base import utcnow
from prosaas.middleware.retries import retry_policy
from prosaas.process_identity import Liveness, liveness, process_identity
from prosaas.redis_protocol import is_delay_queue, record_heartbeat
from prosaas.worker_maintenance import MaintenanceLoop, MaintenanceRound

log = logging.getLogger("prosaas.worker")


class WorkerPresence(Middleware):
    """Keeps a worker process visibly alive and runs its maintenance loop.

    Every ``heartbeat_seconds`` it refreshes Dramatiq's heartbeat for this broker (so a worker busy
    with long jobs is never taken for dead) and writes its entry in the worker registry (host, pid,
    queues, jobs running, counts), then runs the other tasks of its maintenance loop (``loop.tasks``,
    prosaas.worker_maintenance: slot leases, crash recovery, ...). It logs ``WORKER_STARTED``,
    ``WORKER_STOPPING`` and, on shutdown, ``WORKER_STOPPED`` with processed/succeeded/failed and uptime.

    Note:
      A worker is alive while its registry entry's heartbeat is younger than ``dead_after_seconds``
      and its process has not been seen to exit (:meth:`is_worker_alive`). A stopping worker removes
      its own entry.

    Parameters:
      client: the Redis client.
      keys(prosaas.redis_protocol.Keys): the namespace of the registry and the heartbeats.
      tracking(prosaas.middleware.tracking.JobTracking): how many jobs run here.
      heartbeat_seconds(float): the interval of the heartbeat and the maintenance loop.
      dead_after_seconds(int): the heartbeat age after which a worker is dead.
      role(str): default "worker". service_role(str): this process's SERVICE_ROLE (GET /api/jobs/worker/config).

    >>> presence = WorkerPresence(client=redis, keys=keys, tracking=tracking, heartbeat_seconds=5,
    ...                           dead_after_seconds=60)
    >>> presence.loop.tasks += [RenewSlotLeases(slots), PruneRedeliveries(redis, keys, presence, tracking)]
    """

    def __init__(self, *, client, keys, tracking, heartbeat_seconds: float, dead_after_seconds: int,
                 role: str = "worker", service_role: str = "worker"):
        self.client, self.keys, self.tracking = client, keys, tracking
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_after_seconds = dead_after_seconds
        self.role = role
        self.service_role = service_role
        self.stats = {"processed": 0, "succeeded": 0, "failed": 0, "retried": 0}
        self._finished: set[str] = set()  # message ids finished since the last maintenance round
        self.started_at = time.time()
        self.queues: list[str] = []
        self.broker_id = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.identity: dict = {}
        self.loop = MaintenanceLoop([self.beat], interval_seconds=heartbeat_seconds)

    # Outcomes -------------------------------------------------------------------------
    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.stats["processed"] += 1
        if exception is None:
            self.stats["succeeded"] += 1
        elif message.failed:
            self.stats["failed"] += 1
        else:
            self.stats["retried"] += 1
        if exception is None or message.failed:
            self._finished.add(message.message_id)

    def take_finished(self) -> set[str]:
        """The ids of the messages finished for good since the last call (for PruneRedeliveries)."""
        finished, self._finished = self._finished, set()
        return finished

    # Lifecycle ------------------------------------------------------------------------
    def after_worker_boot(self, broker, worker):
        self.broker_id = broker.broker_id
        self.identity = process_identity()  # in the worker process itself, not the parent that built us
        self.queues = sorted(q for q in worker.consumers if not is_delay_queue(q)) if worker.consumers else []
        self.started_at = time.time()
        self.loop.start(broker, self.worker_id)
        log.info("WORKER_STARTED worker=%s queues=%s concurrency=%d retries=%s", self.worker_id,
                 ",".join(self.queues), getattr(worker, "worker_threads", 0), retry_policy())

    def before_worker_shutdown(self, broker, worker):
        log.info("WORKER_STOPPING worker=%s running=%d", self.worker_id, len(self.tracking.running))

    def after_worker_shutdown(self, broker, worker):
        self.loop.stop()
        uptime = time.time() - self.started_at
        processed = self.stats["processed"]
        rate = 100.0 * self.stats["succeeded"] / processed if processed else 100.0
        log.info("WORKER_STOPPED worker=%s processed=%d succeeded=%d failed=%d retried=%d uptime_s=%.0f "
                 "success_rate=%.1f%%", self.worker_id, processed, self.stats["succeeded"],
                 self.stats["failed"], self.stats["retried"], uptime, rate)
        try:
            self.client.hdel(self.keys("workers"), self.worker_id)
        except Exception:  # Redis may be the reason we are stopping
            pass

    # The heartbeat and the registry ---------------------------------------------------
    def beat(self, round_: MaintenanceRound | None = None) -> None:
        """Dramatiq's heartbeat for this broker and this worker's registry entry, in one round trip."""
        now = time.time()
        info = {"worker": self.worker_id, "host": socket.gethostname(), "pid": os.getpid(), "role": self.role,
                "service_role": self.service_role, "queues": self.queues, "running": len(self.tracking.running),
                "started_at": self.started_at, "last_heartbeat": now, "broker_id": self.broker_id, **self.identity,
                **self.stats}
        pipe = self.client.pipeline(transaction=False)
        record_heartbeat(pipe, self.keys, self.broker_id, int(now * 1000))
        pipe.hset(self.keys("workers"), self.worker_id, json.dumps(info))
        pipe.execute()

    def is_worker_alive(self, worker: str, heartbeat_at: dt.datetime | None = None) -> bool:
        """Whether a worker process (host:pid) has heartbeated within the dead-after window.

        heartbeat_at: the heartbeat of a job row that worker runs. A worker missing from the registry
        (Redis lost its data a moment ago) whose job heartbeat is recent is alive: taking its job over
        would run the job twice.
        """
        raw = self.client.hget(self.keys("workers"), worker)
        if raw is None:
            return heartbeat_at is not None and utcnow() - heartbeat_at < dt.timedelta(
                seconds=self.dead_after_seconds)
        try:
            entry = json.loads(raw)
        except ValueError:
            return False
        if entry.get("exited") or liveness(entry) is Liveness.EXITED:
            return False
        return time.time() - entry.get("last_heartbeat", 0) < self.dead_after_seconds
