"""What a worker does between jobs, every heartbeat: a loop of small named tasks run in order.

The first task is the worker's own heartbeat (prosaas.middleware.presence); then come its own upkeep (slot
leases, redelivery counts, its jobs' heartbeats) and the cluster's crash recovery, which one worker at a time
does (`OneSweeperAtATime`). `prosaas.broker_stack.build_broker` lists the tasks.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from db import job_store
from db.base import utcnow
from db.models.core import JobStatus
from prosaas.process_identity import Liveness, liveness
from prosaas.redis_protocol import record_heartbeat_of_exited

log = logging.getLogger("prosaas.worker")

CRASHED_WORKER_ERROR = ("the job's worker process died on every delivery (out of memory or killed); "
                        "moved to the dead-letter queue")


@dataclass
class MaintenanceRound:
    """What the tasks of one round share: the worker's broker and id, and what earlier tasks found."""

    broker: Any
    worker_id: str
    exited_workers_found: bool = False


class MaintenanceLoop:
    """Runs a worker's maintenance tasks in order, every ``interval_seconds``, on a thread of its own.

    Each task is a callable taking the round (:class:`MaintenanceRound`).

    Note:
      A task that raises ends its round: the tasks after it wait for the next round, and the failure
      is logged as ``HEARTBEAT_FAILED`` (the first task is the heartbeat, and a worker that cannot
      reach Redis or the database fails them all alike).

    Parameters:
      tasks(list[Callable]): run in this order.
      interval_seconds(float): the pause between the end of a round and the next.

    >>> loop = MaintenanceLoop([presence.beat, RenewSlotLeases(slots)], interval_seconds=5)
    >>> loop.start(broker, worker_id="host:1234")
    """

    def __init__(self, tasks: Iterable[Callable[[MaintenanceRound], None]], *, interval_seconds: float):
        self.tasks = list(tasks)
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, broker, worker_id: str) -> None:
        self._thread = threading.Thread(target=self._loop, args=(broker, worker_id), name="prosaas-presence",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self, broker, worker_id: str) -> None:
        """One round, in the caller's thread: every task in order; the first to raise ends it."""
        round_ = MaintenanceRound(broker, worker_id)
        for task in self.tasks:
            task(round_)

    def _loop(self, broker, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(broker, worker_id)
            except Exception:
                log.warning("HEARTBEAT_FAILED worker=%s", worker_id, exc_info=True)
            self._stop.wait(self.interval_seconds)


# This worker's own upkeep ---------------------------------------------------------------------

class RenewSlotLeases:
    """Extends the lease of every per-business slot this process holds.

    Note:
      A slot whose lease runs out is freed for another job of its business: a worker that stopped
      renewing (killed, frozen) gives its slots back without anyone cleaning up after it.

    Parameters:
      slots(prosaas.middleware.slots.BusinessSlots): the process's slot middleware.
    """

    def __init__(self, slots):
        self.slots = slots

    def __call__(self, round_: MaintenanceRound) -> None:
        self.slots.renew_leases()


class PruneRedeliveries:
    """Drops the crash-redelivery counts of the messages this process finished since the last round.

    Note:
      One HKEYS per round, usually of an empty hash: no Redis command per job. A redelivered copy of
      a finished job, skipped by job tracking, is done for good too and is pruned as well.

    Parameters:
      client: the Redis client.
      keys(prosaas.redis_protocol.Keys): the namespace of the ``redeliveries`` hash.
      presence(prosaas.middleware.presence.WorkerPresence): hands over the messages it saw finish.
      tracking(prosaas.middleware.tracking.JobTracking): hands over the copies it skipped as finished.
    """

    def __init__(self, client, keys, presence, tracking):
        self.client, self.keys = client, keys
        self.presence, self.tracking = presence, tracking

    def __call__(self, round_: MaintenanceRound) -> None:
        finished = self.presence.take_finished()
        skipped, self.tracking.skipped_as_finished = self.tracking.skipped_as_finished, set()
        finished |= skipped
        counted = self.client.hkeys(self.keys("redeliveries"))
        done = [key for key in counted if _name(key) in finished]
        if done:
            self.client.hdel(self.keys("redeliveries"), *done)


class TouchRunningJobs:
    """Refreshes the heartbeat of the job rows this process is running.

    Note:
      A running row whose heartbeat is old and whose worker is gone is taken over by the next
      delivery of its message, or requeued by :class:`RequeueAbandonedJobs`.

    Parameters:
      database(db.Database): where the job rows are.
      tracking(prosaas.middleware.tracking.JobTracking): knows which jobs run here.
    """

    def __init__(self, database, tracking):
        self.database, self.tracking = database, tracking

    def __call__(self, round_: MaintenanceRound) -> None:
        running = self.tracking.running_job_ids()
        if running:
            with self.database.session() as session:
                job_store.touch_heartbeats(session, running)


# The cluster's crash recovery ------------------------------------------------------------------

class MarkExitedWorkers:
    """Finds this host's workers whose process has exited and makes this round's sweep recover them.

    Their Dramatiq heartbeat is set to 0 (only if still present), which is what the recovery script
    takes for dead; their registry entry is marked ``exited`` so a job row they held can be taken over
    and they are reported once (``WORKER_EXITED``). Sets ``round.exited_workers_found``.

    Note:
      Only a process of this host can be seen to have exited (prosaas.process_identity); a worker
      whose pid is alive is never recovered early, however long a CPU-bound job keeps it from
      heartbeating. Workers on other hosts are judged by the heartbeat timeout alone.

    Parameters:
      client: the Redis client.
      keys(prosaas.redis_protocol.Keys): the namespace of the worker registry.
    """

    def __init__(self, client, keys):
        self.client, self.keys = client, keys

    def __call__(self, round_: MaintenanceRound) -> None:
        exited = {}
        for worker, raw in self.client.hgetall(self.keys("workers")).items():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry.get("broker_id") and not entry.get("exited") and liveness(entry) is Liveness.EXITED:
                exited[worker] = entry
        if not exited:
            return
        pipe = self.client.pipeline(transaction=False)
        for worker, entry in exited.items():
            record_heartbeat_of_exited(pipe, self.keys, entry["broker_id"])
            pipe.hset(self.keys("workers"), worker, json.dumps({**entry, "exited": True}))
        pipe.execute()
        for worker, entry in exited.items():
            log.warning("WORKER_EXITED worker=%s pid=%s detected_by=%s silent_s=%.1f", _name(worker),
                        entry.get("pid"), round_.worker_id, time.time() - entry.get("last_heartbeat", 0))
        round_.exited_workers_found = True


class OneSweeperAtATime:
    """Runs its tasks in the worker that holds the recovery lock; the other workers skip them this round.

    Note:
      The lock lives one heartbeat, so the sweep moves between workers. A worker that has just found
      an exited process (:class:`MarkExitedWorkers`) sweeps at once, lock or not: the recovery script
      is atomic per queue, so a second sweeper is harmless.

    Parameters:
      client: the Redis client.
      keys(prosaas.redis_protocol.Keys): the namespace of the ``recovery:lock`` key.
      lease_seconds(float): how long the lock is held (the heartbeat interval).
      tasks(list[Callable]): run in order by the holder.
    """

    def __init__(self, client, keys, *, lease_seconds: float, tasks: Iterable[Callable[[MaintenanceRound], None]]):
        self.client, self.keys = client, keys
        self.lease_ms = int(lease_seconds * 1000)
        self.tasks = list(tasks)

    def __call__(self, round_: MaintenanceRound) -> None:
        if not self.client.set(self.keys("recovery", "lock"), round_.worker_id, nx=True, px=self.lease_ms) \
                and not round_.exited_workers_found:
            return
        for task in self.tasks:
            task(round_)


class RecoverDeadWorkers:
    """Requeues the messages of dead worker processes; fails the job rows of crash-looping ones.

    A message redelivered too many times after a crash is dead-lettered by the recovery script; its
    job row is failed with reason ``crashed_worker``.

    Note:
      Dead letters older than their TTL are expired in the same sweep (prosaas.recovery).

    Parameters:
      recovery(prosaas.recovery.Recovery): runs the recovery script over every queue.
      database(db.Database): where the job rows are.
    """

    def __init__(self, recovery, database):
        self.recovery, self.database = recovery, database

    def __call__(self, round_: MaintenanceRound) -> None:
        _requeued, crashed = self.recovery.run_once()
        if not crashed:
            return
        with self.database.session() as session:
            for message in crashed:
                job_id = message.get("options", {}).get("job_id")
                if job_id:
                    job_store.finish_job(session, job_id, status=JobStatus.FAILED, reason="crashed_worker",
                                         error=CRASHED_WORKER_ERROR)


class SweepWaitingLists:
    """Admits waiting messages of businesses that have a free slot again.

    Note:
      A slot freed by an expired lease (its worker died) wakes nobody: this sweep does.

    Parameters:
      slots(prosaas.middleware.slots.BusinessSlots): the process's slot middleware.
    """

    def __init__(self, slots):
        self.slots = slots

    def __call__(self, round_: MaintenanceRound) -> None:
        self.slots.sweep_waiting(round_.broker)


class PruneRegistry:
    """Removes the registry entries of workers silent for four times ``dead_after_seconds`` (and unreadable ones).

    Note:
      A stopping worker removes its own entry; this catches the ones that could not.

    Parameters:
      client: the Redis client.
      keys(prosaas.redis_protocol.Keys): the namespace of the worker registry.
      dead_after_seconds(int): the heartbeat timeout.
    """

    def __init__(self, client, keys, *, dead_after_seconds: int):
        self.client, self.keys = client, keys
        self.dead_after_seconds = dead_after_seconds

    def __call__(self, round_: MaintenanceRound) -> None:
        cutoff = time.time() - self.dead_after_seconds * 4
        for worker, raw in self.client.hgetall(self.keys("workers")).items():
            try:
                if json.loads(raw).get("last_heartbeat", 0) < cutoff:
                    self.client.hdel(self.keys("workers"), worker)
            except ValueError:
                self.client.hdel(self.keys("workers"), worker)


class RequeueAbandonedJobs:
    """Puts back in the queue the running rows whose worker is gone and whose heartbeat is old (``JOB_ABANDONED``).

    Note:
      At most once per ``lock_seconds`` cluster-wide (its own lock, ``recovery:rows``). A row counts
      as abandoned when its heartbeat is older than three times ``stale_after_seconds`` and its worker
      is not alive.

    Parameters:
      client: the Redis client.
      keys(prosaas.redis_protocol.Keys): the namespace of the lock.
      database(db.Database): where the job rows are.
      stale_after_seconds(float): a running job's heartbeat age after which it is stale.
      is_worker_alive(Callable): (worker, heartbeat_at) -> bool, the worker registry's answer.
      lock_seconds(float): default 30.
    """

    def __init__(self, client, keys, database, *, stale_after_seconds: float,
                 is_worker_alive: Callable[..., bool], lock_seconds: float = 30):
        self.client, self.keys, self.database = client, keys, database
        self.stale_after_seconds = stale_after_seconds
        self.is_worker_alive = is_worker_alive
        self.lock_ms = int(lock_seconds * 1000)

    def __call__(self, round_: MaintenanceRound) -> None:
        if not self.client.set(self.keys("recovery", "rows"), round_.worker_id, nx=True, px=self.lock_ms):
            return
        cutoff = utcnow() - dt.timedelta(seconds=self.stale_after_seconds * 3)
        with self.database.session() as session:
            moved = job_store.requeue_abandoned_jobs(session, heartbeat_before=cutoff, is_alive=self.is_worker_alive)
        for job_id in moved:
            log.warning("JOB_ABANDONED job_id=%s status=queued reason=worker_lost", job_id)


class RunReconciler:
    """Resends the messages of queued job rows that have none, when the reconciler is due.

    Note:
      The reconciler paces itself cluster-wide (its own lease); see prosaas.reconciler.

    Parameters:
      reconciler(prosaas.reconciler.Reconciler): the reconciler.
    """

    def __init__(self, reconciler):
        self.reconciler = reconciler

    def __call__(self, round_: MaintenanceRound) -> None:
        self.reconciler.run_if_due(round_.broker, round_.worker_id)


def _name(worker) -> str:
    return worker.decode() if isinstance(worker, bytes) else worker
