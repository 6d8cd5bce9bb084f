"""The system over time: per-queue buckets of job outcomes and durations in Redis, and each job's attempts.

Workers count outcomes in memory and write them about once a second with one pipeline (HINCRBY per field,
EXPIREAT per key): the hot path never waits for Redis and never reads. Each outcome lands in a one-minute
and a ten-minute bucket per queue, both kept 48 hours:

    <namespace>:px:history:<queue>:<bucket_seconds>:<bucket start, epoch s>  (hash)
        p  attempts processed (any outcome)     f  attempts that failed for good (dead letter)
        r  attempts that failed and will retry  h<i>  attempts whose duration fell in DURATION_BOUNDS_MS[i]

Percentiles come from that fixed histogram (linear within a bin), so they are estimates within a bin's width.
A tracked job's attempts (worker, start, end, outcome, error) go to `<namespace>:px:attempts:<job_id>`
(a list of JSON, the last 25, kept 7 days) in the same pipeline.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Optional

import redis

log = logging.getLogger("prosaas.history")

RETENTION_SECONDS = 48 * 3600
MINUTE, TEN_MINUTES = 60, 600
BUCKET_SIZES = (MINUTE, TEN_MINUTES)
WINDOWS = {"1h": (3600, MINUTE), "24h": (24 * 3600, TEN_MINUTES)}  # window -> (span, bucket size)
DURATION_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 1_800_000)
ATTEMPTS_KEPT = 25
ATTEMPTS_TTL_SECONDS = 7 * 24 * 3600
FLUSH_SECONDS = 1.0
OUTCOME_FIELDS = {"succeeded": (), "failed": ("f",), "retried": ("r",)}


def bucket_key(keys, queue: str, size: int, start: int) -> str:
    return keys("history", queue, size, start)


def attempts_key(keys, job_id: str) -> str:
    return keys("attempts", job_id)


def duration_bin(duration_ms: float) -> int:
    for index, bound in enumerate(DURATION_BOUNDS_MS):
        if duration_ms <= bound:
            return index
    return len(DURATION_BOUNDS_MS)


class HistoryRecorder:
    """A worker process's outcome counts and attempts, written to Redis by a flusher thread.

    `record` only updates a dict under a lock; the flusher (started on the first record, again after a
    fork) writes everything gathered since its last pass with one pipeline. A failed write is dropped
    with a warning: history is for looking at, never worth slowing or failing a job.

    Parameters:
      client: Redis client; keys: our key namer; flush_seconds: how often counts are written (default 1 s;
      None: no flusher thread, the owner calls `flush`).
    """

    def __init__(self, client, keys, *, flush_seconds: Optional[float] = FLUSH_SECONDS, clock=time.time):
        self.client = client
        self.keys = keys
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], dict[str, int]] = {}
        self._attempts: list[tuple[str, str]] = []
        self._flusher_pid: Optional[int] = None

    def record(self, queue: str, outcome: str, duration_ms: float, *, job_id: Optional[str] = None,
               attempt: Optional[dict[str, Any]] = None) -> None:
        minute = int(self.clock()) // MINUTE * MINUTE
        with self._lock:
            counts = self._counts.setdefault((queue, minute), {})
            for field in ("p", *OUTCOME_FIELDS[outcome], f"h{duration_bin(duration_ms)}"):
                counts[field] = counts.get(field, 0) + 1
            if job_id and attempt is not None:
                self._attempts.append((job_id, json.dumps(attempt, default=str)))
            if self._flusher_pid != os.getpid() and self.flush_seconds is not None:
                self._start_flusher()

    def _start_flusher(self) -> None:
        self._flusher_pid = os.getpid()
        threading.Thread(target=self._flush_forever, name="history-flush", daemon=True).start()

    def _flush_forever(self) -> None:
        while self._flusher_pid == os.getpid():
            time.sleep(self.flush_seconds)
            self.flush()

    def flush(self) -> int:
        """Write what was recorded since the last flush (one pipeline); returns the number of keys touched."""
        with self._lock:
            counts, self._counts = self._counts, {}
            attempts, self._attempts = self._attempts, []
        if not counts and not attempts:
            return 0
        pipe = self.client.pipeline(transaction=False)
        merged: dict[str, tuple[dict[str, int], int]] = {}
        for (queue, minute), fields in counts.items():
            for size in BUCKET_SIZES:
                start = minute // size * size
                key = bucket_key(self.keys, queue, size, start)
                total, _ = merged.setdefault(key, ({}, start + size + RETENTION_SECONDS))
                for field, count in fields.items():
                    total[field] = total.get(field, 0) + count
        for key, (fields, expire_at) in merged.items():
            for field, count in fields.items():
                pipe.hincrby(key, field, count)
            pipe.expireat(key, expire_at)
        by_job: dict[str, list] = {}
        for job_id, entry in attempts:
            by_job.setdefault(job_id, []).append(entry)
        for job_id, entries in by_job.items():
            key = attempts_key(self.keys, job_id)
            pipe.rpush(key, *entries)
            pipe.ltrim(key, -ATTEMPTS_KEPT, -1)
            pipe.expire(key, ATTEMPTS_TTL_SECONDS)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("HISTORY_WRITE_FAILED keys=%d error=%s", len(merged), type(exc).__name__)
        return len(merged)


# Reading ---------------------------------------------------------------------------------------------

def percentile_ms(histogram: list[int], fraction: float) -> Optional[int]:
    """The duration below which `fraction` of the attempts fell, linear within its histogram bin."""
    total = sum(histogram)
    if not total:
        return None
    wanted = fraction * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= wanted:
            lower = DURATION_BOUNDS_MS[index - 1] if index else 0
            if index >= len(DURATION_BOUNDS_MS):
                return lower
            upper = DURATION_BOUNDS_MS[index]
            return int(round(lower + (upper - lower) * (wanted - seen) / count))
        seen += count
    return DURATION_BOUNDS_MS[-1]


def _bucket_values(raw: dict) -> tuple[int, int, int, list[int]]:
    fields = {name.decode() if isinstance(name, bytes) else name: int(value) for name, value in raw.items()}
    histogram = [fields.get(f"h{index}", 0) for index in range(len(DURATION_BOUNDS_MS) + 1)]
    return fields.get("p", 0), fields.get("f", 0), fields.get("r", 0), histogram


def stats(client, keys, queues, *, window: str = "1h", queue: Optional[str] = None,
          now: Optional[float] = None) -> dict[str, Any]:
    """`GET /api/admin/stats`: the window's buckets, oldest first, summed over `queue` or every queue."""
    span, size = WINDOWS[window]
    now = time.time() if now is None else now
    last = int(now) // size * size
    starts = list(range(last - span + size, last + size, size))
    names = [queue] if queue else list(queues)
    pipe = client.pipeline(transaction=False)
    for start in starts:
        for name in names:
            pipe.hgetall(bucket_key(keys, name, size, start))
    raw = pipe.execute()
    buckets = []
    for index, start in enumerate(starts):
        processed = failed = retried = 0
        histogram = [0] * (len(DURATION_BOUNDS_MS) + 1)
        for hashed in raw[index * len(names):(index + 1) * len(names)]:
            p, f, r, h = _bucket_values(hashed)
            processed, failed, retried = processed + p, failed + f, retried + r
            histogram = [a + b for a, b in zip(histogram, h)]
        buckets.append({"t": start, "processed": processed, "failed": failed, "retried": retried,
                        "p50_ms": percentile_ms(histogram, 0.50), "p95_ms": percentile_ms(histogram, 0.95)})
    return {"window": window, "bucket_seconds": size, "buckets": buckets}


def recent_rates(client, keys, queues, *, minutes: int = 5, now: Optional[float] = None) -> dict[str, dict]:
    """Per queue over the last `minutes` (the current minute included): jobs per minute and failures."""
    now = time.time() if now is None else now
    current = int(now) // MINUTE * MINUTE
    starts = [current - MINUTE * back for back in range(minutes)]
    elapsed = (minutes - 1) * MINUTE + max(1.0, now - current)
    pipe = client.pipeline(transaction=False)
    for name in queues:
        for start in starts:
            pipe.hmget(bucket_key(keys, name, MINUTE, start), "p", "f")
    values = pipe.execute()
    rates = {}
    for index, name in enumerate(queues):
        rows = values[index * minutes:(index + 1) * minutes]
        processed = sum(int(p or 0) for p, _ in rows)
        failed = sum(int(f or 0) for _, f in rows)
        rates[name] = {"processed": processed, "failed": failed,
                       "per_minute": round(processed * 60 / elapsed, 1)}
    return rates


def job_attempts(client, keys, job_id: str) -> list[dict[str, Any]]:
    """A tracked job's recorded attempts, oldest first (empty once they expired or for untracked work)."""
    entries = []
    for raw in client.lrange(attempts_key(keys, job_id), 0, -1):
        try:
            entries.append(json.loads(raw))
        except ValueError:
            continue
    return entries
