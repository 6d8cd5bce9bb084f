"""Job history: workers' per-minute buckets in Redis, GET /api/admin/stats, `prosaas info`'s five-minute rate."""
import time

from prosaas.job_history import DURATION_BOUNDS_MS, HistoryRecorder, bucket_key, percentile_ms, stats
from prosaas.settings import ALL_QUEUES
from tests.machinery.helpers import marker
from tests.support import sample_actors
from tests.support.processes import run_cli, wait_for


def _totals(client, headers, **query):
    answer = client.simulate_get("/api/admin/stats", headers=headers, params=query)
    assert answer.status_code == 200, answer.text
    body = answer.json
    return body, {field: sum(b[field] for b in body["buckets"]) for field in ("processed", "failed", "retried")}


def test_workers_record_outcomes_that_stats_and_info_show(worker_factory, client, admin_headers, business,
                                                          redis_marks, clean_queues, clean_history):
    worker_factory(queues="default")
    ok, bad = marker(), marker()
    for _ in range(30):
        sample_actors.record_run.send(business.id, ok)
    sample_actors.poison.send(business.id, bad)  # 3 attempts: 2 retried, then failed for good
    wait_for(lambda: redis_marks.runs(ok) == 30 and redis_marks.runs(bad) == 3, 60, what="jobs to run")

    wait_for(lambda: _totals(client, admin_headers)[1] == {"processed": 33, "failed": 1, "retried": 2}, 15,
             what="the workers' history to be flushed")
    body, _ = _totals(client, admin_headers)
    assert body["window"] == "1h" and body["bucket_seconds"] == 60 and len(body["buckets"]) == 60
    assert body["buckets"] == sorted(body["buckets"], key=lambda b: b["t"])
    busy = [b for b in body["buckets"] if b["processed"]]
    assert all(b["p50_ms"] is not None and b["p95_ms"] >= b["p50_ms"] for b in busy)
    day, totals = _totals(client, admin_headers, window="24h", queue="default")
    assert day["bucket_seconds"] == 600 and len(day["buckets"]) == 144 and totals["processed"] == 33
    assert _totals(client, admin_headers, queue="low")[1]["processed"] == 0
    assert client.simulate_get("/api/admin/stats", headers=admin_headers,
                               params={"window": "7d"}).status_code == 422
    assert client.simulate_get("/api/admin/stats", headers=business.headers).status_code == 403

    info = run_cli("info")
    default_line = next(line for line in info.stdout.splitlines() if line.startswith("default "))
    assert "JOBS/MIN(5M)" in info.stdout and "(1 failed)" in default_line, info.stdout


def test_one_flush_writes_minute_and_ten_minute_buckets_with_a_duration_histogram(runtime, clean_history):
    start = int(time.time()) // 600 * 600
    now = [start + 30.0]
    recorder = HistoryRecorder(runtime.redis, runtime.keys, flush_seconds=None, clock=lambda: now[0])
    for duration in (3, 3, 40, 40, 40, 40, 40, 40, 40, 2000):
        recorder.record("low", "succeeded", duration)
    recorder.record("low", "retried", 7)
    assert runtime.redis.exists(bucket_key(runtime.keys, "low", 60, start)) == 0
    assert recorder.flush() == 2
    minute = runtime.redis.hgetall(bucket_key(runtime.keys, "low", 60, start))
    assert int(minute[b"p"]) == 11 and int(minute[b"r"]) == 1
    assert 0 < runtime.redis.ttl(bucket_key(runtime.keys, "low", 600, start)) <= 48 * 3600 + 600
    body = stats(runtime.redis, runtime.keys, ALL_QUEUES, window="1h", now=now[0])
    last = body["buckets"][-1]
    assert last["t"] == start and last["processed"] == 11 and last["retried"] == 1
    assert 25 <= last["p50_ms"] <= 50 and 1000 <= last["p95_ms"] <= 2500


def test_percentiles_come_from_the_fixed_histogram():
    histogram = [0] * (len(DURATION_BOUNDS_MS) + 1)
    assert percentile_ms(histogram, 0.5) is None
    histogram[DURATION_BOUNDS_MS.index(100)] = 10  # all ten in (50, 100]
    assert percentile_ms(histogram, 0.5) == 75 and percentile_ms(histogram, 0.95) == 98
