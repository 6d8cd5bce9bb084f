"""Claim 6: tracked throughput with 5,000,000 finished rows in `background_jobs` vs an empty table.

Same Redis, same 2 processes x 50 greenlets, durable commits. The finished rows (90 % completed, 10 % failed,
all older than a day) are written with one INSERT ... SELECT generate_series and ANALYZEd. Prints one line:
BENCH retention empty_jobs_s=.. full_jobs_s=.. full_vs_empty=.. rows=..   (goal: full_vs_empty >= 0.90)
Sizes: BENCH_RETENTION_ROWS (default 5000000), BENCH_TRACKED_N (default 3000), BENCH_REPEATS drains per table
state (default 1; the figure compares medians, and each empty drain starts from a truncated table).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import BenchEnv, result_line  # noqa: E402

FILL = """
INSERT INTO background_jobs (id, business_id, type, actor_name, queue, message_id, status, is_batch, total,
    processed, succeeded, failed, attempts, args, created_at, updated_at, started_at, finished_at, heartbeat_at)
SELECT md5('finished' || g), %(business_id)s, 'noop', 'noop', 'default', md5('message' || g),
       CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'completed' END, false, 0, 0, 0, 0, 1, '{}'::json,
       now() - interval '2 days', now() - interval '2 days', now() - interval '2 days',
       now() - interval '2 days', now() - interval '2 days'
FROM generate_series(1, %(rows)s) AS g
"""


def fill_finished_rows(bench: BenchEnv, business_id: int, rows: int) -> float:
    """Seconds to write and analyze `rows` finished job rows."""
    import psycopg2

    started = time.monotonic()
    connection = psycopg2.connect(bench.env["DATABASE_URL"])
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute("SET synchronous_commit = off")
    cursor.execute(FILL, {"business_id": business_id, "rows": rows})
    cursor.execute("VACUUM ANALYZE background_jobs")
    # The fill wrote gigabytes of WAL: without this the checkpoint it triggers lands in the measured drain
    # (rows that accumulated over 14 days would have been checkpointed long ago).
    cursor.execute("CHECKPOINT")
    connection.close()
    return time.monotonic() - started


def empty_table(bench: BenchEnv) -> None:
    import psycopg2

    connection = psycopg2.connect(bench.env["DATABASE_URL"])
    connection.autocommit = True
    connection.cursor().execute("TRUNCATE background_jobs")
    connection.cursor().execute("VACUUM ANALYZE background_jobs")
    connection.close()


def main() -> None:
    from bench.bench_worker_throughput import measure_ours_tracked

    rows = int(os.environ.get("BENCH_RETENTION_ROWS", 5_000_000))
    tracked_n = int(os.environ.get("BENCH_TRACKED_N", 3000))
    repeats = int(os.environ.get("BENCH_REPEATS", 1))
    bench = BenchEnv("retention")
    measure_ours_tracked(bench, min(tracked_n, 1000), durable=True)  # warm-up: the first drain is always slower
    empty_runs = []
    for _ in range(repeats):
        empty_table(bench)
        rate, completed = measure_ours_tracked(bench, tracked_n, durable=True)
        assert completed == tracked_n, f"only {completed}/{tracked_n} tracked jobs completed (empty table)"
        empty_runs.append(rate)
    business_id, _key = bench.make_business("Finished rows")
    fill_seconds = fill_finished_rows(bench, business_id, rows)
    full_runs = []
    for _ in range(repeats):
        rate, completed = measure_ours_tracked(bench, tracked_n, durable=True)
        assert completed == tracked_n, f"only {completed}/{tracked_n} tracked jobs completed (full table)"
        full_runs.append(rate)
    empty, full = statistics.median(empty_runs), statistics.median(full_runs)
    result_line("retention", empty_jobs_s=round(empty), full_jobs_s=round(full), full_vs_empty=round(full / empty, 2),
                empty_runs="/".join(str(round(r)) for r in empty_runs),
                full_runs="/".join(str(round(r)) for r in full_runs),
                rows=rows, fill_s=round(fill_seconds), tracked_n=tracked_n, goal="full_vs_empty>=0.90")

if __name__ == "__main__":
    main()
