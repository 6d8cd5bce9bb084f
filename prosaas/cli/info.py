"""`prosaas info` (queues, workers, scheduler, recent failures; --watch) and `prosaas doctor`."""
from __future__ import annotations

import json
import sys
import time


def add_commands(commands) -> None:
    info = commands.add_parser("info", help="queues, workers, scheduler and recent failures")
    info.add_argument("--watch", action="store_true", help="refresh in place every --interval seconds")
    info.add_argument("--interval", type=float, default=2.0)
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=cmd_info)
    commands.add_parser("doctor", help="check settings, database, broker, consumers, scheduler"
                        ).set_defaults(handler=cmd_doctor)


def render_info(report: dict) -> str:
    lines = []
    db, broker = report["database"], report["broker"]
    lines.append(f"database: {'ok' if db['ok'] else 'DOWN ' + db['detail']}   broker: "
                 f"{'ok' if broker['ok'] else 'DOWN ' + broker['detail']}")
    if "queues" in report:
        lines.append(f"\n{'QUEUE':12} {'READY':>7} {'DELAYED':>8} {'RUNNING':>8} {'DEAD':>6} {'CONSUMERS':>10}")
        for name, q in report["queues"].items():
            flag = "  <- no consumer!" if name in report.get("stuck_queues", []) else ""
            lines.append(f"{name:12} {q['ready']:>7} {q['delayed']:>8} {q['running']:>8} {q['dead_letters']:>6} "
                         f"{q['consumers']:>10}{flag}")
        lines.append(f"\n{'WORKER':28} {'QUEUES':44} {'RUN':>4} {'DONE':>7} {'FAIL':>5} {'HEARTBEAT':>10}")
        for w in report["workers"]:
            lines.append(f"{w['worker'][:28]:28} {','.join(w.get('queues', []))[:44]:44} {w.get('running', 0):>4} "
                         f"{w.get('processed', 0):>7} {w.get('failed', 0):>5} {w['age_s']:>9.0f}s"
                         f"{'' if w['alive'] else ' DEAD'}")
        sched = report["scheduler"]
        lines.append(f"\nscheduler: {'alive' if sched['alive'] else 'NOT RUNNING'} "
                     f"({len(sched['instances'])} instance(s), missed ticks: {sched['missed_ticks']})")
        for actor, tick in sorted(sched["ticks"].items()):
            lines.append(f"  {actor:32} last {tick.get('last_tick', '-')[:19]}  next {tick.get('next_tick', '-')[:19]}")
    if "jobs" in report:
        lines.append("\njobs: " + ", ".join(f"{k}={v}" for k, v in sorted(report["jobs"].items())))
    for job in report.get("stale_jobs", [])[:10]:
        lines.append(f"  STALE {job['id']} {job['type']} {job['status']} on {job['queue']}: {job['why']}")
    return "\n".join(lines)


def _recent_failures(limit: int = 5) -> list[str]:
    from prosaas.dead_letters import list_dead_letters

    try:
        return [f"  {e['queue']:12} {e['actor'][:28]:28} {e['reason']:18} {(e['error'] or '')[:60]}"
                for e in list_dead_letters(limit=limit)]
    except Exception:
        return []


def cmd_info(args, settings) -> int:
    from prosaas.health import health_report

    while True:
        report = health_report()
        if args.json:
            text = json.dumps(report, indent=2, default=str)
        else:
            failures = _recent_failures()
            text = render_info(report) + ("\n\nrecent dead letters:\n" + "\n".join(failures) if failures else "")
        if args.watch:
            sys.stdout.write("\x1b[H\x1b[2J" + time.strftime("%H:%M:%S ") + "prosaas info (Ctrl-C to stop)\n\n")
        print(text, flush=True)
        if not args.watch:
            break
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            break
    stuck = report.get("stuck_queues", [])
    down = not (report["database"]["ok"] and report["broker"]["ok"])
    return 1 if stuck or down else 0


def cmd_doctor(args, settings) -> int:
    from db.migrate import pending_revisions
    from prosaas.health import check_broker, check_database, scheduler_status
    from prosaas.queue_stats import queues_without_consumer

    results = [("settings", True, "loaded")]
    db_ok, detail = check_database()
    results.append(("database", db_ok, detail))
    if db_ok:
        pending = pending_revisions(settings.effective_database_url)
        results.append(("migrations", not pending, "up to date" if not pending else
                        f"pending: {', '.join(pending)} (run `prosaas migrate`)"))
    broker_ok, detail = check_broker()
    results.append(("broker", broker_ok, detail))
    if broker_ok:
        missing = queues_without_consumer()
        results.append(("consumers", not missing, "every queue has a consumer" if not missing else
                        f"no live worker consumes: {', '.join(missing)}"))
        sched = scheduler_status()
        results.append(("scheduler", sched["alive"], f"{len(sched['instances'])} instance(s) alive"
                        if sched["alive"] else "no scheduler heartbeat in the last 90 s"))
    for name, ok, detail in results:
        print(f"{'OK  ' if ok else 'FAIL'} {name:11} {detail}")
    return 0 if all(ok for _, ok, _ in results) else 1
