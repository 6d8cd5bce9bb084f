"""Worker presence: heartbeats (Dramatiq's and ours), slot-lease renewal, crash recovery, final stats."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time

from dramatiq.middleware import Middleware

from db import job_store
from db.base import utcnow
from db.models.core import JobStatus
from prosaas.redis_protocol import is_delay_queue, record_heartbeat, record_heartbeat_of_exited
from prosaas.middleware.retries import retry_policy
from prosaas.process_identity import Liveness, liveness, process_identity

log = logging.getLogger("prosaas.worker")


class WorkerPresence(Middleware):
    """Keeps a worker process visibly alive and recovers the work of dead ones.

    Every ``heartbeat_seconds`` it refreshes Dramatiq's heartbeat for this broker (so a worker
    busy with long jobs is never taken for dead), writes its entry in the worker registry
    (host, pid, queues, jobs running), renews its slot leases and the heartbeat of its running
    jobs, and runs crash recovery. On shutdown it logs processed/succeeded/failed and uptime.

    Note:
      A worker of this host whose process has exited (its registry entry's pid is gone or is
      another process now, see ``prosaas.process_identity``) is recovered at the next beat of
      any worker on the same host, without waiting ``dead_after_seconds``. A worker whose pid is
      alive is never recovered early, however long a CPU-bound job keeps it from heartbeating;
      workers on other hosts are judged by the heartbeat timeout alone.
    """

    def __init__(self, *, client, keys, database, tracking, slots, recovery, heartbeat_seconds: float,
                 dead_after_seconds: int, role: str = "worker", service_role: str = "worker",
                 reconciler=None):
        self.client, self.keys, self.database = client, keys, database
        self.tracking, self.slots, self.recovery = tracking, slots, recovery
        self.reconciler = reconciler
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_after_seconds = dead_after_seconds
        self.role = role
        self.service_role = service_role  # this process's SERVICE_ROLE, for GET /api/jobs/worker/config
        self.stats = {"processed": 0, "succeeded": 0, "failed": 0, "retried": 0}
        self._finished: set[str] = set()  # message ids finished since the last beat
        self.started_at = time.time()
        self.queues: list[str] = []
        self.broker_id = None
        self.broker = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.identity: dict = {}
        self._stop = threading.Event()
        self._thread = None

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

    def _prune_redeliveries(self) -> None:
        """Drop the crash-redelivery counts of messages this process finished since the last beat.

        One HKEYS per beat, usually of an empty hash: no Redis command per job.
        """
        finished, self._finished = self._finished, set()
        skipped, self.tracking.skipped_as_finished = self.tracking.skipped_as_finished, set()
        finished |= skipped  # a redelivered copy of a finished job, skipped: done for good too
        counted = self.client.hkeys(self.keys("redeliveries"))
        done = [key for key in counted if (key.decode() if isinstance(key, bytes) else key) in finished]
        if done:
            self.client.hdel(self.keys("redeliveries"), *done)

    # Lifecycle ------------------------------------------------------------------------
    def after_worker_boot(self, broker, worker):
        self.broker_id = broker.broker_id
        self.broker = broker
        self.identity = process_identity()  # in the worker process itself, not the parent that built us
        self.queues = sorted(q for q in worker.consumers if not is_delay_queue(q)) if worker.consumers else []
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._loop, name="prosaas-presence", daemon=True)
        self._thread.start()
        log.info("WORKER_STARTED worker=%s queues=%s concurrency=%d retries=%s", self.worker_id,
                 ",".join(self.queues), getattr(worker, "worker_threads", 0), retry_policy())

    def before_worker_shutdown(self, broker, worker):
        log.info("WORKER_STOPPING worker=%s running=%d", self.worker_id, len(self.tracking.running))

    def after_worker_shutdown(self, broker, worker):
        self._stop.set()
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

    # Heartbeat loop -------------------------------------------------------------------
    def _loop(self):
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:
                log.warning("HEARTBEAT_FAILED worker=%s", self.worker_id, exc_info=True)
            self._stop.wait(self.heartbeat_seconds)

    def beat(self) -> None:
        now = time.time()
        info = {"worker": self.worker_id, "host": socket.gethostname(), "pid": os.getpid(), "role": self.role,
                "service_role": self.service_role, "queues": self.queues, "running": len(self.tracking.running),
                "started_at": self.started_at, "last_heartbeat": now, "broker_id": self.broker_id, **self.identity,
                **self.stats}
        pipe = self.client.pipeline(transaction=False)
        record_heartbeat(pipe, self.keys, self.broker_id, int(now * 1000))
        pipe.hset(self.keys("workers"), self.worker_id, json.dumps(info))
        pipe.execute()
        self.slots.renew_leases()
        self._prune_redeliveries()
        running = self.tracking.running_job_ids()
        if running:
            with self.database.session() as session:
                job_store.touch_heartbeats(session, running)
        self._recover(sweep_now=self._mark_exited_workers())

    def _mark_exited_workers(self) -> bool:
        """Find this host's workers whose process has exited and make the next sweep recover them.

        Their Dramatiq heartbeat is set to 0 (only if still present), which is what the recovery script
        takes for dead; their registry entry is marked ``exited`` so a job row they held can be taken
        over and they are reported once. Returns whether any was found.
        """
        exited = {}
        for worker, raw in self.client.hgetall(self.keys("workers")).items():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry.get("broker_id") and not entry.get("exited") and liveness(entry) is Liveness.EXITED:
                exited[worker] = entry
        if not exited:
            return False
        pipe = self.client.pipeline(transaction=False)
        for worker, entry in exited.items():
            record_heartbeat_of_exited(pipe, self.keys, entry["broker_id"])
            pipe.hset(self.keys("workers"), worker, json.dumps({**entry, "exited": True}))
        pipe.execute()
        for worker, entry in exited.items():
            log.warning("WORKER_EXITED worker=%s pid=%s detected_by=%s silent_s=%.1f", _name(worker),
                        entry.get("pid"), self.worker_id, time.time() - entry.get("last_heartbeat", 0))
        return True

    def _recover(self, *, sweep_now: bool = False) -> None:
        # One worker at a time does the sweep; others skip this beat. A worker that has just found an
        # exited process sweeps at once: the script is atomic per queue, so a second sweeper is harmless.
        if not self.client.set(self.keys("recovery", "lock"), self.worker_id, nx=True,
                               px=int(self.heartbeat_seconds * 1000)) and not sweep_now:
            return
        _requeued, crashed = self.recovery.run_once()
        if crashed:
            with self.database.session() as session:
                for message in crashed:
                    job_id = message.get("options", {}).get("job_id")
                    if job_id:
                        job_store.finish_job(session, job_id, status=JobStatus.FAILED, reason="crashed_worker",
                                             error="the job's worker process died on every delivery "
                                                   "(out of memory or killed); moved to the dead-letter queue")
        self.slots.sweep_waiting(self.broker)
        self._prune_workers()
        self._requeue_abandoned_jobs()
        if self.reconciler is not None:
            self.reconciler.run_if_due(self.broker, self.worker_id)

    def _requeue_abandoned_jobs(self) -> None:
        if not self.client.set(self.keys("recovery", "rows"), self.worker_id, nx=True, px=30_000):
            return
        cutoff = utcnow() - dt.timedelta(seconds=self.tracking.stale_after.total_seconds() * 3)
        with self.database.session() as session:
            moved = job_store.requeue_abandoned_jobs(session, heartbeat_before=cutoff, is_alive=self.is_worker_alive)
        for job_id in moved:
            log.warning("JOB_ABANDONED job_id=%s status=queued reason=worker_lost", job_id)

    def _prune_workers(self) -> None:
        cutoff = time.time() - self.dead_after_seconds * 4
        for worker, raw in self.client.hgetall(self.keys("workers")).items():
            try:
                if json.loads(raw).get("last_heartbeat", 0) < cutoff:
                    self.client.hdel(self.keys("workers"), worker)
            except ValueError:
                self.client.hdel(self.keys("workers"), worker)


def _name(worker) -> str:
    return worker.decode() if isinstance(worker, bytes) else worker
