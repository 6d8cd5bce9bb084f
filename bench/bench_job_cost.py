"""Claim 6: what one job costs, counted, for raw Dramatiq, untracked and tracked jobs; and how far one Redis
and one PostgreSQL go.

On a PRIVATE Redis (no persistence, like the machine's) and a PRIVATE PostgreSQL (fsync, full-page writes,
pg_stat_statements when installed), so nobody else's traffic is counted. For each kind, N jobs are enqueued
from 8 client threads with the real call (raw `actor.send`, our `actor.send`, `enqueue_tracked`) while no
worker runs, then 2 worker processes x 50 greenlets drain them. Counted per job, enqueue and processing:
Redis commands (INFO commandstats, commands run by Lua scripts included), Redis bytes per queued message
(INFO memory used_memory with all N queued), PostgreSQL statements and commits (pg_stat_statements) and WAL
bytes (pg_current_wal_lsn), CPU microseconds (/proc utime+stime) of the client, the workers' process tree,
the Redis server and every PostgreSQL process. Then the same drains with 1, 2 and 4 worker processes, to
check that the servers' cost per job, from which the ceilings are predicted, holds as the load grows.
Prints: BENCH job_cost <kind>_<figure>=... ; sizes: BENCH_COST_N (default 100000), BENCH_COST_TRACKED_N
(default 10000), BENCH_COST_SCALE_N (untracked, default 10000), BENCH_COST_SCALE_TRACKED_N (default 3000),
BENCH_COST_PROCS (default 1,2,4; empty skips the scale check).
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GREENLETS = 50


class Meter:
    """Snapshots of every counter; the difference of two, divided by jobs, is a cost per job."""

    def __init__(self, bench, client, redis_server, postgres):
        self.bench, self.client, self.redis_server, self.postgres = bench, client, redis_server, postgres

    def snapshot(self, worker_pid: int | None = None) -> dict:
        from bench.support.counters import own_cpu_seconds, postgres_counts, redis_counts, tree_cpu_seconds

        return {"redis": redis_counts(self.client),
                "pg": postgres_counts(self.postgres.url, self.bench.database_name, self.postgres.has_statements),
                "cpu": {"client": own_cpu_seconds(), "redis": tree_cpu_seconds(self.redis_server.pid),
                        "postgres": tree_cpu_seconds(self.postgres.pid),
                        "workers": tree_cpu_seconds(worker_pid) if worker_pid else 0.0}}


def per_job(before: dict, after: dict, jobs: int, *, parts: tuple[str, ...]) -> dict:
    from bench.support.counters import redis_command_delta

    commands = redis_command_delta(before["redis"], after["redis"])
    out = {"redis_cmds": sum(commands.values()) / jobs,
           "top_cmds": {k: round(v / jobs, 2) for k, v in sorted(commands.items(), key=lambda kv: -kv[1])[:6]},
           "wal_bytes": (after["pg"]["wal"] - before["pg"]["wal"]) / jobs}
    if after["pg"]["statements"] is not None:
        out["pg_statements"] = (after["pg"]["statements"] - before["pg"]["statements"]) / jobs
        out["pg_commits"] = (after["pg"]["commits"] - before["pg"]["commits"]) / jobs
    for part in parts:
        out[f"cpu_us_{part}"] = (after["cpu"][part] - before["cpu"][part]) * 1e6 / jobs
    return out


def enqueue_and_drain(meter: Meter, send_one, n: int, start_workers, remaining, *, measure_enqueue: bool = True):
    """Enqueue n jobs (no worker running), then drain them; returns (enqueue costs, processing costs, jobs/s)."""
    from bench.support.drain import time_drain

    before = meter.snapshot()
    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send_one, range(n)))
    enqueue_rate = n / (time.monotonic() - began)
    queued = meter.snapshot()
    enqueue = per_job(before, queued, n, parts=("client", "redis", "postgres")) if measure_enqueue else {}
    if measure_enqueue:
        enqueue["bytes_per_msg"] = (queued["redis"]["used_memory"] - before["redis"]["used_memory"]) / n
        enqueue["jobs_s"] = enqueue_rate
    stop_workers = None
    first: dict = {}
    try:
        stop_workers, pid = start_workers()

        def on_poll(left: int) -> None:
            if not first and left < n:
                first.update(left=left, snap=meter.snapshot(pid))

        seconds = time_drain(remaining, n, on_poll=on_poll, timeout=900)
        time.sleep(0.2)  # the last batch's acks and row writes are counted with the drain
        drained = meter.snapshot(pid)
    finally:
        if stop_workers is not None:
            stop_workers()
    process = per_job(first["snap"], drained, first["left"], parts=("workers", "redis", "postgres"))
    return enqueue, process, n / seconds


def main() -> None:
    from bench.support.servers import BenchPostgres, BenchRedis

    redis_server, postgres = BenchRedis().start(), BenchPostgres().start()
    os.environ.update(BENCH_REDIS_URL=redis_server.url, BENCH_DATABASE_URL=postgres.url)
    try:
        run(redis_server, postgres)
    finally:
        postgres.close()
        redis_server.close()


def run(redis_server, postgres) -> None:
    from bench.support.env import BenchEnv

    n = int(os.environ.get("BENCH_COST_N", 100_000))
    tracked_n = int(os.environ.get("BENCH_COST_TRACKED_N", 10_000))
    scale_n = int(os.environ.get("BENCH_COST_SCALE_N", 10_000))
    scale_tracked_n = int(os.environ.get("BENCH_COST_SCALE_TRACKED_N", 3_000))
    procs = [int(p) for p in os.environ.get("BENCH_COST_PROCS", "1,2,4").split(",") if p.strip()]
    bench = BenchEnv("jobcost")
    try:
        measure(bench, redis_server, postgres, n=n, tracked_n=tracked_n, scale_n=scale_n,
                scale_tracked_n=scale_tracked_n, procs=procs)
    finally:
        bench.cleanup()  # its workers and database go before the private servers do


def measure(bench, redis_server, postgres, *, n, tracked_n, scale_n, scale_tracked_n, procs) -> None:
    import redis

    from bench.support.env import result_line

    raw_namespace = bench.namespace + "-raw"
    os.environ.update(BENCH_RAW_REDIS_URL=redis_server.url, BENCH_RAW_NAMESPACE=raw_namespace)
    from bench.support import raw_actors  # a plain RedisBroker of its own
    from bench.support import actors  # ours (installs the broker through prosaas.broker)
    from bench.support.drain import dramatiq_remaining, start_ours, start_raw, stop_process
    from prosaas.jobs import enqueue_tracked

    client = redis.Redis.from_url(redis_server.url)
    meter = Meter(bench, client, redis_server, postgres)
    business_id, _key = bench.make_business()

    def raw_workers(processes):
        def start():
            process = start_raw({"BENCH_RAW_REDIS_URL": redis_server.url, "BENCH_RAW_NAMESPACE": raw_namespace},
                                bench.tmp, processes=processes, greenlets=GREENLETS)
            return (lambda: stop_process(process)), process.pid
        return start

    def our_workers(processes):
        def start():
            role = start_ours(bench.env, bench.tmp, processes=processes, greenlets=GREENLETS)
            return (lambda: stop_process(role)), role.pid
        return start

    kinds = {
        "raw": (lambda i: raw_actors.noop.send(n=i), raw_workers, dramatiq_remaining(client, raw_namespace)),
        "untracked": (lambda i: actors.noop.send(n=i), our_workers, dramatiq_remaining(client, bench.namespace)),
        "tracked": (lambda i: enqueue_tracked(actors.noop, business_id=business_id, kwargs={"n": i}),
                    our_workers, dramatiq_remaining(client, bench.namespace)),
    }
    figures: dict = {}
    details: dict = {}
    for kind, (send_one, workers, remaining) in kinds.items():
        count = tracked_n if kind == "tracked" else n
        enqueue, process, rate = enqueue_and_drain(meter, send_one, count, workers(2), remaining)
        details[kind] = {"n": count, "enqueue": enqueue, "process": process, "jobs_s": rate}
        figures.update({
            f"{kind}_redis_cmds": round(enqueue["redis_cmds"] + process["redis_cmds"], 1),
            f"{kind}_bytes_per_msg": round(enqueue["bytes_per_msg"]),
            f"{kind}_pg_statements": round(enqueue.get("pg_statements", 0) + process.get("pg_statements", 0), 2),
            f"{kind}_pg_commits": round(enqueue.get("pg_commits", 0) + process.get("pg_commits", 0), 3),
            f"{kind}_wal_bytes": round(enqueue["wal_bytes"] + process["wal_bytes"]),
            f"{kind}_cpu_us": round(enqueue["cpu_us_client"] + process["cpu_us_workers"] + enqueue["cpu_us_redis"]
                                    + process["cpu_us_redis"] + enqueue["cpu_us_postgres"]
                                    + process["cpu_us_postgres"]),
            f"{kind}_redis_cpu_us": round(enqueue["cpu_us_redis"] + process["cpu_us_redis"], 1),
            f"{kind}_pg_cpu_us": round(enqueue["cpu_us_postgres"] + process["cpu_us_postgres"], 1),
            f"{kind}_jobs_s": round(rate),
            f"{kind}_enqueue_jobs_s": round(enqueue["jobs_s"]),
        })
    scale = []
    for processes in procs:
        for kind in ("untracked", "tracked"):
            send_one, workers, remaining = kinds[kind]
            count = scale_tracked_n if kind == "tracked" else scale_n
            _enqueue, process, rate = enqueue_and_drain(meter, send_one, count, workers(processes), remaining,
                                                        measure_enqueue=False)
            scale.append(f"{kind}x{processes}:{rate:.0f}/{process['cpu_us_redis']:.0f}/{process['cpu_us_postgres']:.0f}")
            details.setdefault("scale", {})[f"{kind}x{processes}"] = {"jobs_s": rate, "process": process}
    print(json.dumps(details), file=sys.stderr)
    result_line("job_cost", **figures, scale=",".join(scale),
                scale_format="kind x procs:jobs_s/redis_us_per_job/pg_us_per_job(processing)")


if __name__ == "__main__":
    main()
