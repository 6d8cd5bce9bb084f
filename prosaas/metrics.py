"""Prometheus metrics, correct across processes (prometheus-client multiprocess mode).

`PROMETHEUS_MULTIPROC_DIR` must be set before prometheus_client is imported; `ensure_multiproc_dir`
does that from the data dir. Each host's web role serves the metrics of its own host's processes.
Counters of exited processes stay (totals never go backwards); their live gauges are dropped.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from prosaas.logs import process_id

_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def ensure_multiproc_dir(data_dir: Path) -> Path:
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or (data_dir / "metrics")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _metrics():
    from prometheus_client import Counter, Gauge, Histogram, values

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and values.ValueClass is not _cached_pid_values[0]:
        # Every update checks whether the process forked (a new pid means new files): asked of our cached
        # pid (refreshed after each fork, prosaas.logs.process_id) rather than of a getpid system call; a
        # worker updates five values per job. These are the process's first metrics, so no value of the
        # default class shares their files.
        _cached_pid_values[0] = values.ValueClass = values.MultiProcessValue(process_identifier=process_id)
    return {
        "jobs": Counter("prosaas_jobs_total", "Jobs processed, by actor, queue and outcome",
                        ["actor", "queue", "outcome"]),
        "duration": Histogram("prosaas_job_duration_seconds", "Job run time", ["actor", "queue"],
                              buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800)),
        "in_progress": Gauge("prosaas_jobs_in_progress", "Jobs running now, by actor and queue",
                             ["actor", "queue"], multiprocess_mode="livesum"),
        "resent": Counter("prosaas_jobs_resent_total", "Tracked jobs sent again by the reconciler, by reason",
                          ["reason"]),
        "http": Counter("prosaas_http_requests_total", "HTTP requests by route, method and status",
                        ["route", "method", "status"]),
        "http_duration": Histogram("prosaas_http_request_duration_seconds", "HTTP request time", ["route"]),
    }


_cache: dict | None = None
_cached_pid_values: list = [None]


def metrics() -> dict:
    global _cache
    if _cache is None:
        _cache = _metrics()
    return _cache


def mark_process_dead(pid: int) -> None:
    """Drop an exited process's live gauges (gunicorn's child_exit, a worker's shutdown)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_processes() -> list[int]:
    """Mark dead every process whose live-gauge file outlived it (SIGKILL, OOM): run at scrape time."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or not os.path.isdir(directory):
        return []
    dead = set()
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.match(name)
        if match and not _pid_alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        mark_process_dead(pid)
    return sorted(dead)
