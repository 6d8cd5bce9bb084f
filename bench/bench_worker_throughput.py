"""Claim 1: worker throughput of a no-op actor through our whole middleware stack vs raw Dramatiq and RQ.

Same Redis, same 2 processes x 50 greenlets (gevent). Prints one line:
BENCH worker_throughput raw_jobs_s=.. untracked_jobs_s=.. tracked_jobs_s=.. rq_jobs_s=.. untracked_vs_raw=..
tracked_vs_raw=.. tracked_vs_rq=..   (goals: untracked_vs_raw >= 0.90, tracked_vs_raw >= 0.50, tracked_vs_rq >= 20)
Sizes: BENCH_N (untracked/raw messages, default 20000), BENCH_TRACKED_N (default 3000), BENCH_RQ_N (default 600).
BENCH_REPEATS (default 1): drains of each kind, taken in turn (raw, untracked, ..., raw, untracked, ...); the
line then gives each kind's median and its runs (`raw_runs=a/b/c`), and the ratios of the medians. One drain
lasts about a second, and on a shared 2-core machine one run moves by ±15 %.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import REDIS_URL, REPO_ROOT, BenchEnv, result_line  # noqa: E402

PROCESSES, GREENLETS = 2, 50


def measure_raw(bench: BenchEnv, n: int) -> float:
    import redis
    from dramatiq import Message

    from bench.support.drain import bulk_load, dramatiq_remaining, start_raw, stop_process, time_drain

    namespace = bench.namespace + "-raw"
    env = {"BENCH_RAW_REDIS_URL": REDIS_URL, "BENCH_RAW_NAMESPACE": namespace}
    client = redis.Redis.from_url(REDIS_URL)
    messages = (Message(queue_name="default", actor_name="noop", args=(), kwargs={"n": i}, options={})
                for i in range(n))
    bulk_load(client, namespace, messages)
    process = start_raw(env, bench.tmp, processes=PROCESSES, greenlets=GREENLETS)
    try:
        seconds = time_drain(dramatiq_remaining(client, namespace), n)
    finally:
        stop_process(process)
    return n / seconds


def measure_ours_untracked(bench: BenchEnv, n: int, extra_env: dict | None = None) -> float:
    from bench.support import actors
    from bench.support.drain import bulk_load, dramatiq_remaining, start_ours, stop_process, time_drain
    from prosaas.runtime import get_runtime

    client = get_runtime().redis
    bulk_load(client, bench.namespace, (actors.noop.message(n=i) for i in range(n)))
    worker = start_ours({**bench.env, **(extra_env or {})}, bench.tmp, processes=PROCESSES, greenlets=GREENLETS)
    try:
        seconds = time_drain(dramatiq_remaining(client, bench.namespace), n)
    finally:
        stop_process(worker)
    return n / seconds


def measure_ours_tracked(bench: BenchEnv, n: int, durable: bool = True) -> tuple[float, int]:
    from sqlalchemy import func, select

    from bench.support import actors
    from bench.support.drain import dramatiq_remaining, start_ours, stop_process, time_drain
    from db.models.core import BackgroundJob
    from prosaas.jobs import enqueue_tracked
    from prosaas.runtime import get_runtime

    business_id, _key = bench.make_business()
    set_synchronous_commit(bench, "on" if durable else "off")
    with ThreadPoolExecutor(8) as pool:  # rows + messages created beforehand, workers not yet running
        list(pool.map(lambda i: enqueue_tracked(actors.noop, business_id=business_id, kwargs={"n": i}), range(n)))
    client = get_runtime().redis
    worker = start_ours(bench.env, bench.tmp, processes=PROCESSES, greenlets=GREENLETS)
    try:
        seconds = time_drain(dramatiq_remaining(client, bench.namespace), n)
    finally:
        stop_process(worker)
    with get_runtime().database.session() as session:
        completed = session.scalar(select(func.count()).select_from(BackgroundJob).where(
            BackgroundJob.status == "completed", BackgroundJob.business_id == business_id))
    return n / seconds, completed


def set_synchronous_commit(bench: BenchEnv, value: str) -> None:
    """Durable commits (on: every commit waits for the WAL fsync) or not, for this bench database only."""
    from prosaas.runtime import get_runtime

    connection = bench._admin()
    connection.cursor().execute(f'ALTER DATABASE "{bench.database_name}" SET synchronous_commit = {value}')
    connection.close()
    get_runtime().database.dispose()


def measure_rq(bench: BenchEnv, n: int) -> float:
    import redis
    from rq import Queue
    from rq.registry import FinishedJobRegistry

    from bench.support.drain import stop_process, time_drain

    client = redis.Redis.from_url(REDIS_URL)
    queue = Queue(f"{bench.namespace}-rq", connection=client)
    with client.pipeline() as pipe:
        queue.enqueue_many([Queue.prepare_data("bench.support.rq_jobs.noop", kwargs={"n": i}, result_ttl=120)
                            for i in range(n)], pipeline=pipe)
        pipe.execute()
    finished = FinishedJobRegistry(queue=queue)
    log = open(bench.tmp / "rq.log", "ab")
    workers = [subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", REDIS_URL,
                                 queue.name], cwd=REPO_ROOT, env=os.environ.copy(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True) for _ in range(PROCESSES)]
    try:
        seconds = time_drain(lambda: n - finished.count, n, interval=0.05)
    finally:
        # Burst workers end by themselves once the queue is empty; an interrupted run kills their groups.
        for worker in workers:
            stop_process(worker)
        for key in client.scan_iter(match=f"rq:*{queue.name}*"):
            client.delete(key)
    return n / seconds


def measure_tracked_all_completed(bench: BenchEnv, n: int, durable: bool) -> float:
    rate, completed = measure_ours_tracked(bench, n, durable=durable)
    assert completed == n, f"only {completed}/{n} tracked jobs completed" + ("" if durable else " (async commit)")
    return rate


def main() -> None:
    import statistics

    n = int(os.environ.get("BENCH_N", 20000))
    tracked_n = int(os.environ.get("BENCH_TRACKED_N", 3000))
    rq_n = int(os.environ.get("BENCH_RQ_N", 600))
    repeats = max(1, int(os.environ.get("BENCH_REPEATS", 1)))
    bench = BenchEnv("worker")
    kinds = {
        "raw": lambda: measure_raw(bench, n),
        "untracked": lambda: measure_ours_untracked(bench, n),
        "untracked_nolog": lambda: measure_ours_untracked(bench, n, {"LOG_LEVEL": "WARNING"}),
        "tracked": lambda: measure_tracked_all_completed(bench, tracked_n, durable=True),
        "tracked_async": lambda: measure_tracked_all_completed(bench, tracked_n, durable=False),
    }
    runs: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(repeats):  # in turn, so a slow minute of the machine touches every kind alike
        for kind, measure in kinds.items():
            runs[kind].append(measure())
    raw, untracked, quiet, tracked, tracked_async = (statistics.median(runs[kind]) for kind in kinds)
    rq_rate = measure_rq(bench, rq_n)
    spread = {f"{kind}_runs": "/".join(str(round(rate)) for rate in rates) for kind, rates in runs.items()}
    result_line("worker_throughput", raw_jobs_s=round(raw), untracked_jobs_s=round(untracked),
                untracked_nolog_jobs_s=round(quiet), tracked_jobs_s=round(tracked),
                tracked_async_commit_jobs_s=round(tracked_async), rq_fork_jobs_s=round(rq_rate, 1),
                untracked_vs_raw=round(untracked / raw, 2), untracked_nolog_vs_raw=round(quiet / raw, 2),
                tracked_vs_raw=round(tracked / raw, 2), tracked_async_vs_raw=round(tracked_async / raw, 2),
                tracked_vs_rq=round(tracked / rq_rate, 1), tracked_async_vs_rq=round(tracked_async / rq_rate, 1),
                n=n, tracked_n=tracked_n, rq_n=rq_n, repeats=repeats, **(spread if repeats > 1 else {}),
                goals="untracked>=1.10,tracked>=0.70,rq>=20x")


if __name__ == "__main__":
    main()
