"""`prosaas info` (the dashboard's picture as text; --watch) and `prosaas doctor` (one line per check)."""
from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass

# Cursor home, then each line clears its own tail and the rest of the screen is wiped: no flicker.
HOME, CLEAR_LINE, CLEAR_BELOW = "\x1b[H", "\x1b[K", "\x1b[J"


def add_commands(commands) -> None:
    info = commands.add_parser("info", help="queues, workers, scheduler, jobs and failures (exit 1 if a queue is stuck)")
    info.add_argument("--watch", action="store_true", help="refresh in place every --interval seconds")
    info.add_argument("--interval", type=float, default=2.0)
    info.add_argument("--json", action="store_true", help="the same picture as GET /api/admin/overview")
    info.add_argument("--tenants", action="store_true", help="each business's load and slots, busiest first")
    info.set_defaults(handler=cmd_info)
    commands.add_parser("doctor", help="check settings, database, migrations, broker, consumers, scheduler"
                        ).set_defaults(handler=cmd_doctor)


def info_exit_code(picture: dict) -> int:
    """1 when a queue holds messages no live worker consumes, or the database or broker is down."""
    health = picture["health"]
    down = not (health["database"]["ok"] and health["broker"]["ok"])
    return 1 if down or health.get("stuck_queues") else 0


def cmd_info(args, settings) -> int:
    from prosaas.cli.info_render import render_picture
    from prosaas.overview import overview
    from prosaas.runtime import get_runtime

    if args.tenants:
        return _print_tenants(args)
    picture = None
    try:
        while True:
            picture = overview(get_runtime())
            text = json.dumps(picture, indent=2, default=str) if args.json else render_picture(picture)
            if args.watch:
                header = time.strftime("%H:%M:%S") + f"  prosaas info, every {args.interval:g}s (Ctrl-C to stop)"
                sys.stdout.write(HOME + "\n".join(line + CLEAR_LINE for line in [header, "", *text.splitlines()])
                                 + "\n" + CLEAR_BELOW)
                sys.stdout.flush()
                time.sleep(args.interval)
            else:
                print(text, flush=True)
                break
    except KeyboardInterrupt:
        print()
    return info_exit_code(picture) if picture else 1


def _print_tenants(args) -> int:
    from prosaas.broker_stack import install_broker
    from prosaas.runtime import get_runtime

    broker = install_broker(get_runtime())
    import actors  # noqa: F401  (declares every actor: their slot limits)
    from prosaas.cli.info_render import render_tenants
    from prosaas.tenants import slot_limits, tenants

    rows = tenants(broker.runtime, slot_limits(broker))
    print(json.dumps({"tenants": rows}, indent=2) if args.json else render_tenants(rows), flush=True)
    return 0


@dataclass
class Check:
    name: str
    state: str  # OK | WARN | FAIL
    detail: str


def _check_settings(settings) -> list[Check]:
    checks = [Check("settings", "OK", f"valid (role {settings.service_role}, queues "
                                      f"{','.join(settings.consumed_queues)})")]
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir, prefix=".doctor-"):
            pass
        checks.append(Check("data dir", "OK", f"{settings.data_dir.resolve()} writable"))
    except OSError as exc:
        checks.append(Check("data dir", "FAIL", f"{settings.data_dir}: {exc.strerror or exc}"))
    if not settings.admin_token:
        checks.append(Check("admin token", "WARN", "ADMIN_TOKEN unset: the dashboard and ops endpoints refuse everyone"))
    unconfigured = [what for what, configured in (
        ("recording downloads (TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN)",
         settings.twilio_account_sid and settings.twilio_auth_token),
        ("Web Push (VAPID_PRIVATE_KEY)", settings.vapid_private_key),
        ("WhatsApp sending (BAILEYS_URL)", settings.baileys_url),
        ("WhatsApp webhook signatures (WHATSAPP_WEBHOOK_SECRET)", settings.whatsapp_webhook_secret),
    ) if not configured]
    if unconfigured:
        checks.append(Check("integrations", "WARN", "not configured: " + "; ".join(unconfigured)))
    return checks


def _check_database(settings) -> list[Check]:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines would drown the checks
    from db.migrate import pending_revisions
    from prosaas.health import check_database
    from prosaas.runtime import get_runtime

    ok, detail = check_database(get_runtime().database)
    checks = [Check("database", "OK" if ok else "FAIL", detail)]
    if ok:
        try:
            pending = pending_revisions(settings.effective_database_url)
            checks.append(Check("migrations", "FAIL" if pending else "OK", "up to date" if not pending else
                                f"pending: {', '.join(pending)} (run `prosaas migrate`)"))
        except Exception as exc:
            checks.append(Check("migrations", "FAIL", f"{type(exc).__name__}: {str(exc)[:200]}"))
    return checks


def _check_broker() -> list[Check]:
    from prosaas.health import check_broker, describe_sentinel, scheduler_status, sentinel_status
    from prosaas.queue_pause import paused_queues
    from prosaas.queue_stats import consumer_map, live_workers, queue_counts
    from prosaas.runtime import get_runtime

    runtime = get_runtime()
    ok, detail = check_broker(runtime.redis)
    checks = [Check("broker", "OK" if ok else "FAIL", detail)]
    sentinel = sentinel_status(runtime.settings)
    if sentinel:
        checks.append(Check("sentinel", "OK" if sentinel["agreeing"] else "FAIL", describe_sentinel(sentinel)))
    if not ok:
        return checks
    workers = live_workers(runtime)
    consumers = consumer_map(workers)
    missing = [queue for queue, names in consumers.items() if not names]
    alive = sum(1 for w in workers if w["alive"])
    if missing:
        counts = queue_counts(runtime)
        waiting = [f"{q} ({counts[q]['ready'] + counts[q]['delayed'] + counts[q]['waiting']} waiting)" if q in counts else q for q in missing]
        checks.append(Check("consumers", "FAIL", f"no live worker consumes: {', '.join(waiting)}"))
    else:
        checks.append(Check("consumers", "OK", f"every queue has a consumer ({alive} live worker process(es))"))
    paused = sorted(paused_queues(runtime.redis, runtime.keys))
    if paused:
        checks.append(Check("paused", "WARN", f"paused queue(s): {', '.join(paused)}; their messages wait "
                                              f"(prosaas queues resume NAME)"))
    sched = scheduler_status(runtime.redis, runtime.keys)
    alive_instances = [i for i in sched["instances"] if i["alive"]]
    checks.append(Check("scheduler", "OK" if alive_instances else "FAIL",
                        f"{len(alive_instances)} instance(s) alive, last seen "
                        f"{min(i['age_s'] for i in alive_instances):.0f}s ago" if alive_instances
                        else "no scheduler heartbeat in the last 90 s: periodic jobs are not enqueued"))
    return checks


def cmd_doctor(args, settings) -> int:
    checks = _check_settings(settings) + _check_database(settings) + _check_broker()
    for check in checks:
        print(f"{check.state:4} {check.name:12} {check.detail}", flush=True)
    failed = [c.name for c in checks if c.state == "FAIL"]
    print(f"doctor: {len(failed)} check(s) failed: {', '.join(failed)}" if failed else "doctor: all checks passed")
    return 1 if failed else 0
