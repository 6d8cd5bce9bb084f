"""Claim 5 (round three): peers in the same run, with the same no-op jobs.

Raw Dramatiq, prosaas untracked and tracked, RQ (forking worker), Celery 5 on Redis (prefork with 2
processes; gevent with 2 x 50) and Procrastinate 3 (PostgreSQL only, 2 x concurrency 50), one after the
other on a PRIVATE Redis and a PRIVATE PostgreSQL (fsync on) started by this script. For each: N no-op jobs
are loaded with the peer's own client, its workers start, and we time the drain from the first job done to
the last; CPU per job is the CPU (/proc utime+stime) of the peer's worker processes, the Redis server and
every PostgreSQL process over that drain. Then, with the same workers idle, BENCH_PEERS_STAMPS jobs sent at
BENCH_PEERS_RATE/s record their start: p50/p99 enqueue -> start.
Prints: BENCH peers <peer>=<jobs/s>/<cpu us per job>/<p99 ms> ... ; sizes: BENCH_PEERS_N (default 5000),
BENCH_PEERS_TRACKED_N (3000), BENCH_PEERS_RQ_N (200), BENCH_PEERS_PROCRASTINATE_N (2000); BENCH_PEERS_STAMPS (150) at BENCH_PEERS_RATE (50).
BENCH_PEERS_ONLY=name,name runs some of them.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cpu_snapshot(ctx, workers) -> float:
    from bench.support.counters import tree_cpu_seconds

    return tree_cpu_seconds(*workers.pids, ctx.redis_server.pid, ctx.postgres.pid)


def drain(ctx, peer, n: int) -> dict:
    from bench.support.drain import time_drain
    from bench.support.env import percentile
    from tests.support.processes import wait_for

    peer.load(n)
    workers = None
    try:
        workers = peer.start()
        first: dict = {}

        def on_poll(left: int) -> None:
            if not first and left < n:
                first.update(left=left, cpu=cpu_snapshot(ctx, workers))

        seconds = time_drain(peer.remaining, n, on_poll=on_poll, timeout=900, interval=0.02)
        cpu_us = (cpu_snapshot(ctx, workers) - first["cpu"]) * 1e6 / first["left"]
        ctx.client.delete(ctx.stamps_key)
        count, rate = ctx.stamps, ctx.stamp_rate
        for i in range(count):
            peer.send_stamp(time.time())
            time.sleep(1 / rate)
        wait_for(lambda: ctx.client.llen(ctx.stamps_key) >= count, 120, interval=0.1, what=f"{peer.name} stamps")
        waits = [float(b) - float(a) for a, b in (v.decode().split(":") for v in ctx.client.lrange(ctx.stamps_key, 0, -1))]
    finally:
        if workers is not None:
            workers.stop()
    return {"jobs_s": n / seconds, "cpu_us": cpu_us, "p50_ms": percentile(waits, 50) * 1000,
            "p99_ms": percentile(waits, 99) * 1000, "n": n}


def main() -> None:
    from bench.support.servers import BenchPostgres, BenchRedis

    redis_server, postgres = BenchRedis().start(), BenchPostgres().start()
    os.environ.update(BENCH_REDIS_URL=redis_server.url, BENCH_DATABASE_URL=postgres.url)
    try:
        from bench.support.env import BenchEnv

        bench = BenchEnv("peers")
        try:
            run(bench, redis_server, postgres)
        finally:
            bench.cleanup()
    finally:
        postgres.close()
        redis_server.close()


def run(bench, redis_server, postgres) -> None:
    import redis

    from bench.support import peers
    from bench.support.env import result_line
    from prosaas.runtime import get_runtime

    stamps_key = get_runtime().keys("bench", "stamps")
    stamp_env = {"BENCH_STAMPS_REDIS_URL": redis_server.url, "BENCH_STAMPS_KEY": stamps_key}
    raw_namespace = bench.namespace + "-raw"
    raw_env = {"BENCH_RAW_REDIS_URL": redis_server.url, "BENCH_RAW_NAMESPACE": raw_namespace, **stamp_env}
    os.environ.update(raw_env)
    business_id, _key = bench.make_business()
    ctx = SimpleNamespace(client=redis.Redis.from_url(redis_server.url), redis_url=redis_server.url, tmp=bench.tmp,
                          namespace=bench.namespace, env={**bench.env, **stamp_env}, raw_namespace=raw_namespace,
                          raw_env=raw_env, stamp_env=stamp_env, stamps_key=stamps_key, business_id=business_id,
                          redis_server=redis_server, postgres=postgres,
                          procrastinate_dsn=postgres.create_database("peers_procrastinate"),
                          stamps=int(os.environ.get("BENCH_PEERS_STAMPS", 150)),
                          stamp_rate=float(os.environ.get("BENCH_PEERS_RATE", 50)))
    n = int(os.environ.get("BENCH_PEERS_N", 5000))
    sizes = {"tracked": int(os.environ.get("BENCH_PEERS_TRACKED_N", 3000)),
             "rq": int(os.environ.get("BENCH_PEERS_RQ_N", 200)),
             "procrastinate": int(os.environ.get("BENCH_PEERS_PROCRASTINATE_N", 2000))}
    makers = {"dramatiq": peers.DramatiqRaw, "untracked": peers.Ours, "tracked": peers.OursTracked, "rq": peers.RQ,
              "celery_prefork": lambda c: peers.Celery(c, "prefork"), "celery_gevent": lambda c: peers.Celery(c, "gevent"),
              "procrastinate": peers.Procrastinate}
    only = [name for name in os.environ.get("BENCH_PEERS_ONLY", "").split(",") if name]
    found = {}
    for name, make in makers.items():
        if only and name not in only:
            continue
        peer = make(ctx)
        try:
            found[name] = drain(ctx, peer, sizes.get(name, n))
        finally:
            if hasattr(peer, "close"):
                peer.close()
    print(json.dumps(found), file=sys.stderr)
    result_line("peers", **{name: f"{f['jobs_s']:.0f}/{f['cpu_us']:.0f}/{f['p99_ms']:.1f}" for name, f in found.items()},
                format="jobs_s/cpu_us_per_job/p99_enqueue_to_start_ms")


if __name__ == "__main__":
    main()
