"""Claim 3: end-to-end latency from the API accepting a job to the job running, at a steady 200 jobs/s.

Real `prosaas web` (2 gunicorn gevent workers) and `prosaas worker` (2 x 50 greenlets) on PostgreSQL + Redis;
a paced generator POSTs /api/diagnostics/ping at a fixed rate (200/s by default: the claim); latency =
started_at - created_at of each job's row (the row is written just before the 202). The same is measured
with the jobs enqueued by `enqueue_tracked` in-process from a thread pool (the API's code path without
HTTP; that generator's own threads compete for the GIL, so read it as a cross-check), at the same rate and
at half of it. Prints:
BENCH e2e_latency api_rate=200 api_p50_ms=.. api_p99_ms=.. direct_rate=200 direct_p50_ms=.. direct_p99_ms=..
safe_rate=100 safe_p50_ms=.. safe_p99_ms=..
(the API rate and the half rate are set by BENCH_API_RATE and BENCH_SAFE_RATE)
(goals: p50 < 20 ms, p99 < 100 ms)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import BenchEnv, percentile, result_line  # noqa: E402


def paced_direct(rate: float, duration: float, business_id: int) -> list[str]:
    """enqueue_tracked at a fixed rate from a thread pool; returns the job ids."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.support.actors import noop
    from prosaas.jobs import enqueue_tracked

    total = int(rate * duration)
    start = time.perf_counter() + 0.2

    def one(index):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        return enqueue_tracked(noop, business_id=business_id, kwargs={"n": index}).job_id
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(total)))


def latencies_of(job_ids) -> list[float]:
    from sqlalchemy import select

    from db.models.core import BackgroundJob
    from prosaas.runtime import get_runtime
    from tests.support.processes import wait_for

    def rows():
        with get_runtime().database.session() as session:
            return list(session.execute(select(BackgroundJob.created_at, BackgroundJob.started_at,
                                               BackgroundJob.status).where(BackgroundJob.id.in_(job_ids))))
    wait_for(lambda: (lambda found: len(found) == len(job_ids) and all(r.status == "completed" for r in found))(
        rows()), 300, interval=0.5, what="every job completed")
    return [(r.started_at - r.created_at).total_seconds() * 1000 for r in rows()]


def main() -> None:
    rate = float(os.environ.get("BENCH_RATE", 200))
    api_rate = float(os.environ.get("BENCH_API_RATE", 200))
    safe_rate = float(os.environ.get("BENCH_SAFE_RATE", 100))
    duration = float(os.environ.get("BENCH_SECONDS", 15))
    bench = BenchEnv("e2e")
    from bench.support.drain import start_ours
    from bench.support.web import paced, serve_ours, stop, wait_http
    from tests.support.processes import free_port

    business_id, key = bench.make_business()
    worker = start_ours(bench.env, bench.tmp, processes=2, greenlets=50, queues="default")
    web = None
    try:
        port = free_port()
        web = serve_ours(port, bench.tmp, bench.env)
        url = f"http://127.0.0.1:{port}/api/diagnostics/ping"
        wait_http(f"http://127.0.0.1:{port}/readyz")
        paced(url, 50, 2, auth=f"Bearer {key}")  # warm-up: connections, pools, imports
        load = paced(url, api_rate, duration, auth=f"Bearer {key}")
        api = latencies_of(set(load["job_ids"]))
        stop(web)
        direct = latencies_of(set(paced_direct(rate, duration, business_id)))
        safe = latencies_of(set(paced_direct(safe_rate, duration, business_id)))
    finally:
        if web is not None:
            stop(web)
        stop(worker)
    result_line("e2e_latency", api_rate=api_rate, api_achieved=load["rate_achieved"], api_jobs=len(api),
                api_p50_ms=round(percentile(api, 50), 1), api_p99_ms=round(percentile(api, 99), 1),
                http_p50_ms=load["p50_ms"], http_p99_ms=load["p99_ms"],
                direct_rate=rate, direct_jobs=len(direct), direct_p50_ms=round(percentile(direct, 50), 1),
                direct_p90_ms=round(percentile(direct, 90), 1), direct_p99_ms=round(percentile(direct, 99), 1),
                safe_rate=safe_rate, safe_p50_ms=round(percentile(safe, 50), 1),
                safe_p99_ms=round(percentile(safe, 99), 1),
                goals="p50<20ms,p99<100ms")


if __name__ == "__main__":
    main()
