"""Claim 3: end-to-end latency from the API accepting a job to the job running, at a steady 200 jobs/s.

Real `prosaas web` (2 gunicorn gevent workers) and `prosaas worker` (2 x 50 greenlets) on PostgreSQL + Redis;
a paced generator POSTs /api/diagnostics/ping at a fixed rate; latency = started_at - created_at of each
job's row (the row is written just before the 202). Prints:
BENCH e2e_latency rate=200 jobs=.. p50_ms=.. p99_ms=.. (goals: p50 < 20 ms, p99 < 100 ms)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import BenchEnv, percentile, result_line  # noqa: E402


def main() -> None:
    rate = float(os.environ.get("BENCH_RATE", 200))
    duration = float(os.environ.get("BENCH_SECONDS", 15))
    bench = BenchEnv("e2e")
    from sqlalchemy import select

    from bench.support.drain import start_ours
    from bench.support.web import paced, serve_ours, stop, wait_http
    from db.models.core import BackgroundJob
    from prosaas.runtime import get_runtime
    from tests.support.processes import free_port, wait_for

    _business, key = bench.make_business()
    worker = start_ours(bench.env, bench.tmp, processes=2, greenlets=50, queues="default")
    port = free_port()
    web = serve_ours(port, bench.tmp, bench.env)
    try:
        url = f"http://127.0.0.1:{port}/api/diagnostics/ping"
        wait_http(f"http://127.0.0.1:{port}/readyz")
        paced(url, 50, 2, auth=f"Bearer {key}")  # warm-up: connections, pools, imports
        run_started = time.time()
        load = paced(url, rate, duration, auth=f"Bearer {key}")
        job_ids = set(load["job_ids"])

        def rows():
            with get_runtime().database.session() as session:
                return list(session.execute(select(BackgroundJob.created_at, BackgroundJob.started_at,
                                                   BackgroundJob.status).where(BackgroundJob.id.in_(job_ids))))
        wait_for(lambda: all(r.status == "completed" for r in rows()) and len(rows()) == len(job_ids), 120,
                 interval=0.5, what="every job completed")
        latencies = [(r.started_at - r.created_at).total_seconds() * 1000 for r in rows()]
    finally:
        stop(web)
        worker.stop()
    result_line("e2e_latency", rate=rate, achieved_rate=load["rate_achieved"], jobs=len(latencies),
                accepted_202=load["statuses"].get("202", 0), sent=load["sent"],
                p50_ms=round(percentile(latencies, 50), 1), p90_ms=round(percentile(latencies, 90), 1),
                p99_ms=round(percentile(latencies, 99), 1), max_ms=round(max(latencies), 1),
                api_p50_ms=load["p50_ms"], api_p99_ms=load["p99_ms"], since=round(time.time() - run_started),
                goals="p50<20ms,p99<100ms")


if __name__ == "__main__":
    main()
