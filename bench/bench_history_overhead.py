"""Claim: counting a job into the history costs its path microseconds (a dict update, no Redis call), one flush
writes a busy second in one pipeline, and a 24 h chart reads in milliseconds. One line of output."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support.env import BenchEnv, result_line  # noqa: E402


def main() -> None:
    BenchEnv("history", database=False)
    from prosaas.job_history import HistoryRecorder, stats
    from prosaas.runtime import get_runtime
    from prosaas.settings import ALL_QUEUES

    runtime = get_runtime()
    recorder = HistoryRecorder(runtime.redis, runtime.keys, flush_seconds=None)
    jobs = 200_000
    started = time.perf_counter()
    for index in range(jobs):
        recorder.record(ALL_QUEUES[index % 3], "succeeded" if index % 50 else "retried", index % 700)
    record_us = (time.perf_counter() - started) / jobs * 1e6
    started = time.perf_counter()
    keys = recorder.flush()
    flush_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    stats(runtime.redis, runtime.keys, ALL_QUEUES, window="24h")
    read_ms = (time.perf_counter() - started) * 1000
    result_line("history_overhead", record_us_per_job=record_us, jobs=jobs, flush_keys=keys, flush_ms=flush_ms,
                stats_24h_all_queues_ms=read_ms)


if __name__ == "__main__":
    main()
