"""The Dramatiq broker and its middleware stack, declared once: `build_broker(runtime)`, `install_broker(runtime)`.

Role entry points install the broker from their runtime before they import `actors`; prosaas/broker.py does it
for Dramatiq's own CLI (`dramatiq prosaas.broker actors`).
"""
from __future__ import annotations

import os
import sys

import dramatiq
import dramatiq.broker
from dramatiq.middleware import AgeLimit, Callbacks, CurrentMessage, Pipelines, ShutdownNotifications, TimeLimit
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend
from periodiq import PeriodiqMiddleware

from prosaas.gevent_support import gevent_active, patch_psycopg_if_gevent
from prosaas.log_redaction import install_message_redaction
from prosaas.log_handler import gather_lines_per_loop_turn
from prosaas.logs import configure_logging
from prosaas.metrics import ensure_multiproc_dir
from prosaas.job_history import HistoryRecorder
from prosaas.middleware.history import JobHistory
from prosaas.middleware.job_log import JobLog
from prosaas.middleware.metrics import JobMetrics
from prosaas.middleware.presence import WorkerPresence
from prosaas.middleware.retries import ProsaasRetries
from prosaas.middleware.slots import BusinessSlots
from prosaas.middleware.tracking import JobTracking
from prosaas.queue_pause import QueuePauses
from prosaas.reconciler import Reconciler
from prosaas.recovery import Recovery
from prosaas.periodic_dedup import TickEnqueues
from prosaas.redis_broker import ProsaasBroker
from prosaas.runtime import Runtime
from prosaas.settings import ALL_QUEUES, Settings
from prosaas.worker_maintenance import (MarkExitedWorkers, OneSweeperAtATime, PruneRedeliveries, PruneRegistry,
                                        RecoverDeadWorkers, RenewSlotLeases, RequeueAbandonedJobs, RunReconciler,
                                        SweepWaitingLists, TouchRunningJobs)

RESULT_TTL_MS = 5 * 60 * 1000            # results kept 5 minutes
DEFAULT_TIME_LIMIT_MS = 10 * 60 * 1000
LATE_TICK_SKIP_SECONDS = 60              # periodic ticks older than this are skipped, not run in a burst


def quiet_results(backend, *, result_ttl: int) -> Results:
    """Dramatiq's Results middleware, without its warning for actors that return a value nobody stores.

    Our actors return a summary on purpose: a tracked job's dict is its row's `result`, a periodic job's
    is its JOB_DONE for tests and direct calls. Actors with `store_results=True` are stored as usual.
    A Results *instance* with its after_process_message replaced, not a subclass: Dramatiq's worker looks
    for the Results middleware by exact type (`type(m) is Results`) and, not finding it, warns "you haven't
    added the Results middleware" for every actor that returns a value.
    """
    results = Results(backend=backend, result_ttl=result_ttl)

    def after_process_message(broker, message, *, result=None, exception=None):
        store_results, ttl = results._lookup_options(broker, message)
        if store_results and exception is None:
            results.backend.store_result(message, result, ttl)

    results.after_process_message = after_process_message
    return results


def build_broker(runtime: Runtime) -> ProsaasBroker:
    settings = runtime.settings
    ensure_multiproc_dir(settings.data_dir)
    client = runtime.redis
    tracking = JobTracking(runtime.database, stale_after_seconds=settings.job_stale_after_seconds)
    slots = BusinessSlots(client, runtime.keys, lease_seconds=settings.slot_lease_seconds,
                          queued_lease_seconds=settings.slot_queued_lease_seconds)
    recovery = Recovery(client, settings.redis_namespace, ALL_QUEUES,
                        dead_after_seconds=settings.worker_dead_after_seconds,
                        max_redeliveries=settings.max_crash_redeliveries,
                        dead_letter_ttl_seconds=settings.dead_letter_ttl_seconds)
    presence = WorkerPresence(client=client, keys=runtime.keys, tracking=tracking,
                              heartbeat_seconds=settings.worker_heartbeat_seconds,
                              dead_after_seconds=settings.worker_dead_after_seconds,
                              service_role=settings.service_role)
    tracking.worker_alive = presence.is_worker_alive
    reconciler = Reconciler(client, runtime.keys, runtime.database, ALL_QUEUES,
                            reconcile_after_seconds=settings.reconcile_after_seconds,
                            stale_after_seconds=settings.job_stale_after_seconds,
                            is_worker_alive=presence.is_worker_alive)
    presence.loop.tasks += [  # after the heartbeat, every heartbeat_seconds (prosaas/worker_maintenance.py)
        RenewSlotLeases(slots),
        PruneRedeliveries(client, runtime.keys, presence, tracking),
        TouchRunningJobs(runtime.database, tracking),
        MarkExitedWorkers(client, runtime.keys),
        OneSweeperAtATime(client, runtime.keys, lease_seconds=settings.worker_heartbeat_seconds, tasks=[
            RecoverDeadWorkers(recovery, runtime.database),
            SweepWaitingLists(slots),
            PruneRegistry(client, runtime.keys, dead_after_seconds=settings.worker_dead_after_seconds),
            RequeueAbandonedJobs(client, runtime.keys, runtime.database,
                                 stale_after_seconds=settings.job_stale_after_seconds,
                                 is_worker_alive=presence.is_worker_alive),
            RunReconciler(reconciler),
        ]),
    ]
    job_log = JobLog()  # its attempt= counts crash redeliveries: the broker's counts, handed over below
    # Order matters: `before_*` hooks run top to bottom, `after_*` bottom to top, so tracking
    # and logging see the Retries decision (message.failed) when they record the outcome.
    middleware = [
        PeriodiqMiddleware(skip_delay=LATE_TICK_SKIP_SECONDS),
        JobMetrics(),
        JobHistory(HistoryRecorder(client, runtime.keys)),
        job_log,
        presence,
        AgeLimit(),  # Dramatiq's `max_age`: a message too old is dead-lettered before it takes a slot or its row
        slots,
        tracking,
        TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        ProsaasRetries(client, runtime.keys),
        CurrentMessage(),
        # Result keys under the namespace like every other key (Dramatiq's default is a bare MD5 hash).
        quiet_results(RedisBackend(client=client, namespace=runtime.keys.results_namespace,
                                   use_namespace_prefix_keys=True), result_ttl=RESULT_TTL_MS),
    ]
    broker = ProsaasBroker(client=client, namespace=settings.redis_namespace, middleware=middleware,
                          maintenance_chance=0,  # our Recovery runs it on a timer instead
                          heartbeat_timeout=settings.worker_dead_after_seconds * 1000,
                          dead_message_ttl=settings.dead_letter_ttl_seconds * 1000)
    job_log.redeliveries = broker.redeliveries_of
    broker.runtime = runtime  # actors reach their handles through it: prosaas.runtime.broker_runtime()
    broker.slots = slots
    broker.pauses = QueuePauses(client, runtime.keys)
    broker.known_queues = ALL_QUEUES
    broker.ticks = TickEnqueues(client, runtime.keys)
    for queue in ALL_QUEUES:
        broker.declare_queue(queue)
    return broker


def install_broker(runtime: Runtime) -> ProsaasBroker:
    """Build the broker from `runtime` and make it Dramatiq's global broker, the one `actors` are declared on.

    Role entry points call it before they import `actors`. Log lines of this process show Dramatiq
    messages without their arguments from now on (prosaas.log_redaction).
    """
    install_message_redaction()
    broker = build_broker(runtime)
    dramatiq.set_broker(broker)
    return broker


def installed_broker() -> ProsaasBroker:
    """The broker `install_broker` made global; raises if there is none, never falling back on Dramatiq's default.

    (`dramatiq.get_broker()` would build a default RabbitMQ or Redis broker when none is set, and actors
    declared on it would run without our middleware.)
    """
    broker = dramatiq.broker.global_broker
    if not isinstance(broker, ProsaasBroker):
        raise RuntimeError("no prosaas broker is installed: call prosaas.broker_stack.install_broker(runtime) "
                           "before importing `actors` (or run `dramatiq prosaas.broker actors`, which does)")
    return broker


def prepare_worker_process(settings: Settings) -> None:
    """What a Dramatiq worker process needs before its broker: psycopg cooperative under gevent, and with
    PROSAAS_OWN_LOGGING=1 (`prosaas worker` sets it) our log format."""
    patch_psycopg_if_gevent()
    if os.environ.get("PROSAAS_OWN_LOGGING") == "1":
        # Straight to the role's own stderr (sys.__stderr__), not through the pipe Dramatiq's parent process
        # relays line by line: two log lines per job cost a third process a read and a write each.
        configure_logging(settings.log_level, settings.log_format, stream=sys.__stderr__)
        if gevent_active():
            gather_lines_per_loop_turn()  # one write per loop turn, not per line (prosaas/log_handler.py)


def middleware_of(broker, kind):
    """The broker's middleware instance of a class (e.g. to read slot usage)."""
    return next(m for m in broker.middleware if isinstance(m, kind))
