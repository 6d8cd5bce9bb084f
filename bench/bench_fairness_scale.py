"""Claim 4: per-business fairness under a 10,000-job backlog, and how throughput/latency scale.

Fairness: business A has 10,000 queued `per_business=3` jobs; business B then sends 10; B's wait
(start - send) p50/p95, goal p95 < 2 s. Scale: untracked no-op jobs through the whole stack with 1, 2, 4
worker processes (50 greenlets each) and 1k, 10k, 100k queued messages: drain rate, then the pick-up
latency of 50 fresh jobs on the idle worker, and worker RSS after 10k vs after 100k more jobs.
Prints: BENCH fairness_scale b_p95_s=.. ... scale=<procs>x<queued>:<jobs/s>/<p50 ms>/<p99 ms>,... rss=..
BENCH_SCALE_SIZES / BENCH_SCALE_PROCS override the grid (comma lists).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import BenchEnv, percentile, result_line  # noqa: E402


def fairness(bench: BenchEnv, backlog: int = 10_000, *, preloaded: bool = False) -> dict:
    """B's wait behind A's backlog. A's jobs are sent the normal way (`actor.send`, so each takes a slot
    or waits in A's own list), or with preloaded=True put straight into the shared queue (as messages
    enqueued before slots were admitted at enqueue would be), so workers meet them first."""
    from bench.support import actors
    from bench.support.drain import bulk_load, start_ours, stop_process
    from prosaas.runtime import get_runtime
    from tests.support.processes import wait_for

    client, keys = get_runtime().redis, get_runtime().keys
    worker = start_ours(bench.env, bench.tmp, processes=2, greenlets=50, queues="recordings")
    business_a, business_b = 1_000_001, 1_000_002
    try:
        a_messages = (actors.limited_job.message(business_id=business_a, tag="f", ms=20) for _ in range(backlog))
        if preloaded:
            bulk_load(client, bench.namespace, a_messages, queue="recordings")
        else:
            for message in a_messages:
                actors.limited_job.broker.enqueue(message)
        sent = {}
        for index in range(10):
            sent[index] = time.time()
            actors.limited_job.send(business_id=business_b, tag=f"b{index}", ms=20)
        started = {}

        def all_b_started():
            for index in range(10):
                if index not in started:
                    value = client.lindex(keys("bench", "started", f"b{index}", business_b), 0)
                    if value is not None:
                        started[index] = float(value)
            return len(started) == 10
        wait_for(all_b_started, 600, interval=0.05, what="B's 10 jobs to start")
        a_done = client.llen(keys("bench", "started", "f", business_a))
    finally:
        stop_process(worker)
        for key in [*client.scan_iter(match=keys("waiting", "*")), *client.scan_iter(match=keys("bench", "*"))]:
            client.delete(key)
        client.delete(keys.queue("recordings"), keys.queue_messages("recordings"), keys("slots", "limited_job", business_a))
    waits = [started[i] - sent[i] for i in range(10)]
    prefix = "preloaded_" if preloaded else ""
    return {f"{prefix}b_p50_s": round(percentile(waits, 50), 3), f"{prefix}b_p95_s": round(percentile(waits, 95), 3),
            f"{prefix}b_max_s": round(max(waits), 3), f"{prefix}a_ran_meanwhile": a_done}


def scale(bench: BenchEnv, processes_list, sizes) -> tuple[list, dict]:
    from bench.support import actors
    from bench.support.drain import bulk_load, dramatiq_remaining, start_ours, stop_process, time_drain, worker_pids
    from bench.support.env import rss_mb
    from prosaas.runtime import get_runtime
    from tests.support.processes import wait_for

    client, keys = get_runtime().redis, get_runtime().keys
    rows, rss = [], {}
    for processes in processes_list:
        worker = start_ours(bench.env, bench.tmp, processes=processes, greenlets=50, queues="default")
        try:
            for size in sizes:
                bulk_load(client, bench.namespace, (actors.noop.message(n=i) for i in range(size)))
                seconds = time_drain(dramatiq_remaining(client, bench.namespace), size, timeout=1200)
                pids = worker_pids(worker.pid)
                rss[(processes, size)] = max(rss_mb(pid) for pid in pids) if pids else float("nan")
                client.delete(keys("bench", "stamps"))
                for i in range(50):
                    actors.stamp.send(n=i, sent=time.time())
                    time.sleep(0.02)
                wait_for(lambda: client.llen(keys("bench", "stamps")) >= 50, 60, what="probes")
                pickups = []
                for raw in client.lrange(keys("bench", "stamps"), 0, -1):
                    sent, began = map(float, raw.decode().split(":"))
                    pickups.append((began - sent) * 1000)
                rows.append((processes, size, size / seconds, percentile(pickups, 50), percentile(pickups, 99)))
        finally:
            stop_process(worker)
    return rows, rss


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "1000,10000,100000").split(",")]
    processes_list = [int(p) for p in os.environ.get("BENCH_SCALE_PROCS", "1,2,4").split(",")]
    bench = BenchEnv("fair")
    backlog = int(os.environ.get("BENCH_BACKLOG", 10_000))
    found = {**fairness(bench, backlog), **fairness(bench, backlog, preloaded=True)}
    rows, rss = scale(bench, processes_list, sizes) if processes_list != [0] else ([], {})
    table = ",".join(f"{p}x{s}:{rate:.0f}/{p50:.1f}/{p99:.1f}" for p, s, rate, p50, p99 in rows)
    flat = {}
    if len(sizes) >= 2 and rows:
        for processes in processes_list:
            before, after = rss[(processes, sizes[-2])], rss[(processes, sizes[-1])]
            flat[processes] = f"{before:.0f}->{after:.0f}MB"
    result_line("fairness_scale", **found, goal_b_p95_s=2, scale=table,
                rss_after=";".join(f"p{k}:{v}" for k, v in flat.items()) or "n/a",
                legend="procs x queued: jobs/s / pickup p50 ms / pickup p99 ms; rss: max worker RSS after "
                       "second-largest vs largest backlog")


if __name__ == "__main__":
    main()
