"""Text rendering of the operators' picture (prosaas.overview) for `prosaas info`: compact, fixed-width tables."""
from __future__ import annotations

from typing import Any

from prosaas.health import describe_sentinel
from prosaas.overview import relative_time as ago

BAR_WIDTH = 20


def bar(percent: float) -> str:
    filled = int(round(BAR_WIDTH * min(100.0, max(0.0, percent)) / 100))
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def table(headers: list[str], rows: list[list[Any]], right: tuple[int, ...] = ()) -> list[str]:
    """Columns as wide as their widest cell; the indexes in `right` are right-aligned."""
    cells = [[str(c) for c in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(parts).rstrip())
    return lines


def _status_line(health: dict) -> str:
    db, broker = health["database"], health["broker"]
    parts = [f"database {'ok' if db['ok'] else 'DOWN (' + db['detail'] + ')'}",
             f"broker {'ok' if broker['ok'] else 'DOWN (' + broker['detail'] + ')'}"]
    if broker.get("sentinel"):
        parts.append(f"sentinel {describe_sentinel(broker['sentinel'])}")
    if "scheduler" in health:
        parts.append(f"scheduler {'alive' if health['scheduler']['alive'] else 'NOT RUNNING'}")
    if health.get("jobs"):
        parts.append("jobs " + " ".join(f"{k}={v}" for k, v in sorted(health["jobs"].items())))
    return "   ".join(parts)


def _queues(health: dict, rates: dict) -> list[str]:
    stuck, idle = health.get("stuck_queues", []), health.get("queues_without_consumer", [])
    rows = [[name, q["ready"], q["delayed"], q.get("waiting", 0), q["running"], q["dead_letters"], q["consumers"],
             _rate(rates.get(name)),
             " ".join(note for note in ("PAUSED" if q.get("paused") else "",
                                        "STUCK: messages and no consumer" if name in stuck else
                                        ("no consumer" if name in idle else "")) if note)]
            for name, q in health["queues"].items()]
    return table(["QUEUE", "READY", "DELAYED", "WAITING_SLOT", "RUNNING", "DEAD", "CONSUMERS", "JOBS/MIN(5M)", ""],
                 rows, right=(1, 2, 3, 4, 5, 6, 7))


def _rate(rate: dict | None) -> str:
    """The last five minutes' jobs per minute, with the failures among them."""
    if not rate:
        return "-"
    return f"{rate['per_minute']:g}" + (f" ({rate['failed']} failed)" if rate["failed"] else "")


def _workers(health: dict) -> list[str]:
    if not health["workers"]:
        return ["no worker is running: nothing will be processed"]
    rows = [[w.get("host"), w.get("pid"), ",".join(w.get("queues", [])), f"{w['age_s']:.0f}s ago"
             + ("" if w["alive"] else " DEAD"), w.get("running", 0), w.get("processed", 0), w.get("failed", 0)]
            for w in health["workers"]]
    return table(["HOST", "PID", "QUEUES", "HEARTBEAT", "RUN", "DONE", "FAIL"], rows, right=(1, 4, 5, 6))


def _scheduler(health: dict, schedule: list[dict]) -> list[str]:
    sched = health["scheduler"]
    lines = [f"scheduler: {'alive' if sched['alive'] else 'NOT RUNNING'} "
             f"({len(sched['instances'])} instance(s), missed ticks {sched['missed_ticks']})"]
    for instance in sched["instances"]:
        lines.append(f"  {instance.get('host')} pid {instance.get('pid')}  seen {instance['age_s']:.0f}s ago"
                     f"{'' if instance['alive'] else ' SILENT'}  fired {instance.get('fired', 0)}"
                     f"{' (' + instance['kind'] + ')' if instance.get('kind') else ''}")
    if schedule:
        lines += ["  " + line for line in table(["PERIODIC ACTOR", "CRON", "LAST TICK", "NEXT TICK"],
                                                [[t["actor"], t["spec"], ago(t["last_tick"]), ago(t["next_tick"])]
                                                 for t in schedule])]
    return lines


def _jobs(picture: dict) -> list[str]:
    stale = {job["id"] for job in picture["health"].get("stale_jobs", [])}
    rows = [[job["id"][:12], job["type"][:24], job["business_id"], job["queue"],
             job["status"] + (" STALE" if job["id"] in stale else ""),
             _progress(job),
             "-" if job["duration_s"] is None else f"{job['duration_s']:.1f}s"]
            for job in picture["jobs"][:15]]
    return table(["JOB", "TYPE", "BUSINESS", "QUEUE", "STATUS", "PROGRESS", "DURATION"], rows, right=(2, 6))


def _progress(job: dict) -> str:
    progress = job["progress"]
    if not progress["total"] and job["status"] != "completed":
        return "-"
    return f"{bar(progress['percent'])} {progress['processed']}/{progress['total']}"


def error_text(job: dict) -> str:
    """The error, prefixed by its reason unless the error already starts with it."""
    error, reason = job.get("error") or "", job.get("error_reason")
    return f"{reason}: {error}" if reason and not error.startswith(reason) else error


def _failed(picture: dict) -> list[str]:
    rows = [[job["id"], job["type"][:24], job["business_id"], job["attempts"], ago(job["finished_at"]),
             error_text(job)[:70]] for job in picture["failed_jobs"][:10]]
    return table(["JOB", "TYPE", "BUSINESS", "TRIES", "FAILED", "ERROR"], rows, right=(2, 3))


def _dead_letters(picture: dict) -> list[str]:
    rows = [[entry["message_id"], entry["queue"], entry["actor"], entry["reason"], ago(entry["failed_at_ms"] / 1000),
             (entry["error"] or "")[:60]] for entry in picture["dead_letters"][:10]]
    return table(["MESSAGE", "QUEUE", "ACTOR", "REASON", "FAILED", "ERROR"], rows)


def render_picture(picture: dict) -> str:
    """The dashboard as text: status, queues, workers, scheduler, jobs, failures, dead letters."""
    health = picture["health"]
    lines = [_status_line(health)]
    if "queues" in health:
        lines += ["", *_queues(health, picture.get("rates", {})), "", *_workers(health), "", *_scheduler(health, picture["schedule"])]
    if picture["jobs"]:
        lines += ["", *_jobs(picture)]
    if picture["failed_jobs"]:
        lines += ["", "failed jobs (retry: prosaas jobs retry ID)", *_failed(picture)]
    if picture["dead_letters"]:
        lines += ["", "dead letters (requeue: prosaas dlq requeue MESSAGE)", *_dead_letters(picture)]
    if health.get("paused_queues"):
        lines += ["", f"PAUSED: {', '.join(health['paused_queues'])} (workers take nothing from them; "
                      f"resume: prosaas queues resume NAME)"]
    if health.get("stuck_queues"):
        lines += ["", f"STUCK: {', '.join(health['stuck_queues'])} hold messages that no live worker consumes "
                      f"(start a worker with WORKER_QUEUES including them)"]
    return "\n".join(lines)


def render_tenants(tenants: list[dict]) -> str:
    """`prosaas info --tenants`: one line per business, busiest first, with its slots in use."""
    rows = [[t["business_id"], t["name"][:30], t["queued"], t["running"], t["waiting_for_slot"], t["processed_24h"],
             t["failed_24h"], " ".join(f"{actor}={slot['in_use']}/{slot['limit'] or '?'}" for actor, slot in t["slots"].items()
                                       if slot["in_use"]) or "-"]
            for t in tenants]
    return "\n".join(table(["BUSINESS", "NAME", "QUEUED", "RUNNING", "WAITING_SLOT", "DONE_24H", "FAILED_24H",
                             "SLOTS IN USE"], rows, right=(0, 2, 3, 4, 5, 6)))
