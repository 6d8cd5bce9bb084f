"""Prometheus metrics, correct across processes (prometheus-client multiprocess mode).

`PROMETHEUS_MULTIPROC_DIR` must be set before prometheus_client is imported; `ensure_multiproc_dir`
does that from the data dir. Each host's web role serves the metrics of its own host's processes.
"""
from __future__ import annotations

import os
from pathlib import Path


def ensure_multiproc_dir(data_dir: Path) -> Path:
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or (data_dir / "metrics")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _metrics():
    from prometheus_client import Counter, Histogram

    return {
        "jobs": Counter("prosaas_jobs_total", "Jobs processed, by actor, queue and outcome",
                        ["actor", "queue", "outcome"]),
        "duration": Histogram("prosaas_job_duration_seconds", "Job run time", ["actor", "queue"],
                              buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800)),
        "http": Counter("prosaas_http_requests_total", "HTTP requests by route, method and status",
                        ["route", "method", "status"]),
        "http_duration": Histogram("prosaas_http_request_duration_seconds", "HTTP request time", ["route"]),
    }


_cache: dict | None = None


def metrics() -> dict:
    global _cache
    if _cache is None:
        _cache = _metrics()
    return _cache


def mark_process_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
