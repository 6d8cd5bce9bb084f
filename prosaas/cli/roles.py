"""Role commands: web (gunicorn+gevent), worker (dramatiq+gevent), scheduler, migrate."""
from __future__ import annotations

import logging
import os
import sys


def add_commands(commands) -> None:
    commands.add_parser("web", help="serve the HTTP API (gunicorn, gevent workers)").set_defaults(handler=cmd_web)
    worker = commands.add_parser("worker", help="run Dramatiq workers (gevent)")
    worker.add_argument("--queues", help="comma list (default: WORKER_QUEUES or all queues)")
    worker.add_argument("--module", action="append", default=[], help="extra actor module to load (repeatable)")
    worker.add_argument("--reload", action="store_true",
                        help="development: restart the workers when a .py file of prosaas/actors/web/db changes")
    worker.set_defaults(handler=cmd_worker)
    commands.add_parser("scheduler", help="run the periodic scheduler").set_defaults(handler=cmd_scheduler)
    commands.add_parser("migrate", help="apply database migrations under a lock").set_defaults(handler=cmd_migrate)
    commands.add_parser("embedded-redis", help="run the embedded Redis-compatible server (valkey)"
                        ).set_defaults(handler=cmd_embedded_redis)


def cmd_migrate(args, settings) -> int:
    from db.migrate import run_migrations

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    outcome = run_migrations(settings.effective_database_url, lock_dir=settings.data_dir)
    print(f"migrations: {outcome}")
    return 0


def cmd_web(args, settings) -> int:
    if settings.run_migrations:
        cmd_migrate(args, settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    gunicorn = [sys.executable, "-m", "gunicorn", "web.wsgi:app", "--config", "python:web.gunicorn_conf",
                "--worker-class", "gevent",
                "--workers", str(settings.web_workers), "--bind", settings.bind, "--no-control-socket",
                "--graceful-timeout", "30", "--timeout", "60", "--worker-connections", "1000",
                "--access-logfile", "-", "--access-logformat",
                'HTTP_ACCESS method=%(m)s path="%({raw_uri}e)s" status=%(s)s bytes=%(B)s duration_ms=%(M)s']
    os.execv(sys.executable, gunicorn)


def cmd_worker(args, settings) -> int:
    from prosaas.settings import ALL_QUEUES, split_queue_list

    queues, ignored = split_queue_list(args.queues or ",".join(settings.consumed_queues))
    if ignored:
        print(f"prosaas: deprecated: queue {','.join(ignored)} in --queues is ignored: its work runs on "
              "`maintenance`", file=sys.stderr)

    unknown = [q for q in queues if q not in ALL_QUEUES]
    if unknown:
        print(f"prosaas: unknown queue(s) {unknown}; known: {', '.join(ALL_QUEUES)}", file=sys.stderr)
        return 2
    os.environ["PROSAAS_OWN_LOGGING"] = "1"
    if args.reload:
        os.environ["PROSAAS_WORKER_RELOAD"] = "1"
    command = [sys.executable, "-m", "prosaas.worker_main", "prosaas.broker", "actors", *args.module,
               "--processes", str(settings.worker_processes), "--threads", str(settings.worker_greenlets),
               "--worker-shutdown-timeout", str(settings.worker_shutdown_grace_seconds * 1000),
               "--skip-logging", "--queues", *queues]
    os.execv(sys.executable, command)


def cmd_scheduler(args, settings) -> int:
    import signal

    from prosaas.broker_stack import install_broker
    from prosaas.runtime import get_runtime
    from prosaas.scheduler import TickScheduler, accelerated_clock

    runtime = get_runtime()
    broker = install_broker(runtime)
    import actors  # noqa: F401  (declares every actor on it; the scheduler fires the periodic ones)

    seconds_per_minute = runtime.settings.scheduler_tick_seconds
    clock = accelerated_clock(seconds_per_minute) if seconds_per_minute != 60 else None
    scheduler = TickScheduler(broker, runtime.redis, runtime.keys, now=clock, seconds_per_minute=seconds_per_minute,
                              zone=runtime.settings.scheduler_zone)
    broker.ticks.sender_kind = "prosaas"  # this process heartbeats as a scheduler; it is not a periodiq
    reload_requested = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: (reload_requested.append(signum == signal.SIGHUP),
                                                   scheduler.stop_event.set()))
    scheduler.run_forever()  # returns after deregistering this instance
    if any(reload_requested):  # SIGHUP reloads, as it does `dramatiq`: the same command, new code and settings
        logging.getLogger("prosaas.scheduler").info("SCHEDULER_RELOADING scheduler=%s", scheduler.instance_id)
        os.execv(sys.executable, [sys.executable, "-m", "prosaas", "scheduler"])
    return 0


def cmd_embedded_redis(args, settings) -> int:
    from prosaas.embedded_redis import server_command

    if not settings.uses_embedded_redis:
        print("prosaas: REDIS_URL is set; the embedded server is not needed", file=sys.stderr)
        return 0
    command = server_command(settings.data_dir, settings.embedded_redis_socket)
    os.execv(command[0], command)
