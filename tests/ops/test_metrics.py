"""GET /metrics: Prometheus text summed over several worker and web processes; dead processes' gauges dropped."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from prosaas.metrics import sweep_dead_processes
from tests.machinery.helpers import marker
from tests.support import sample_actors
from tests.support.environment import REPO_ROOT
from tests.support.processes import start_web, wait_for


def samples(text: str) -> dict:
    """{(sample name, sorted label items): value} from Prometheus text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(base: str, headers: dict) -> dict:
    answer = requests.get(f"{base}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


def test_metrics_sum_jobs_from_two_worker_processes_and_requests_from_two_web_processes(
        worker_factory, tmp_logs, admin_headers, business, redis_marks, clean_queues):
    web, base = start_web(tmp_logs, env={"WEB_WORKERS": "2"})
    try:
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 401
        assert requests.get(f"{base}/metrics", headers=business.headers, timeout=5).status_code == 403
        before = scrape(base, admin_headers)
        worker_factory(queues="default", processes=2, greenlets=1)
        m, count = marker(), 8
        for _ in range(count):
            sample_actors.slow.send(business.id, m, ms=250)
        wait_for(lambda: redis_marks.finished(m) == count, 60, what="slow jobs to finish")
        from prosaas.runtime import get_runtime
        pids = {int(p) for p in get_runtime().redis.lrange(redis_marks.key("runs", m), 0, -1)}
        assert len(pids) == 2, f"both worker processes should have run jobs, got {pids}"

        for _ in range(10):
            assert requests.get(f"{base}/api/jobs/health", headers=admin_headers, timeout=5).status_code == 200
        after = wait_for(lambda: (lambda f: f if value(f, "prosaas_jobs_total", actor="slow", queue="default",
                                                       outcome="succeeded") - value(
            before, "prosaas_jobs_total", actor="slow", queue="default", outcome="succeeded") >= count else None)(
            scrape(base, admin_headers)), 10, what="job counters")
        jobs = {outcome: value(after, "prosaas_jobs_total", actor="slow", queue="default", outcome=outcome)
                - value(before, "prosaas_jobs_total", actor="slow", queue="default", outcome=outcome)
                for outcome in ("succeeded", "failed", "retried")}
        assert jobs == {"succeeded": count, "failed": 0, "retried": 0}
        observed = (value(after, "prosaas_job_duration_seconds_count", actor="slow", queue="default")
                    - value(before, "prosaas_job_duration_seconds_count", actor="slow", queue="default"))
        assert observed == count
        assert value(after, "prosaas_jobs_in_progress", actor="slow", queue="default") == 0
        http = (value(after, "prosaas_http_requests_total", route="/api/jobs/health", method="GET", status="200")
                - value(before, "prosaas_http_requests_total", route="/api/jobs/health", method="GET", status="200"))
        assert http == 10
        assert value(after, "prosaas_http_requests_total", route="/metrics", method="GET", status="403") >= 1
        for queue in ("default", "recordings", "broadcasts"):
            assert ("prosaas_queue_messages", (("queue", queue), ("state", "ready"))) in after
            assert ("prosaas_dead_letters", (("queue", queue),)) in after
        assert value(after, "prosaas_workers_alive") >= 2
        text = requests.get(f"{base}/metrics", headers=admin_headers, timeout=10).text
        assert "# TYPE prosaas_tracked_jobs gauge" in text and "# TYPE prosaas_business_slots_in_use gauge" in text

        # gunicorn's child_exit hook drops a killed web worker's live gauges (no scrape needed).
        child = web.child_pids()[0]
        live_file = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]) / f"gauge_livesum_{child}.db"
        live_file.write_bytes(b"")
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: not live_file.exists(), 20, what="child_exit to mark the killed web worker dead")
    finally:
        web.stop()


def test_a_killed_process_live_gauge_is_dropped_at_scrape_time(client, admin_headers):
    # A separate process sets a live gauge and dies without any clean-up, like a SIGKILLed worker.
    code = ("import os; from prosaas.metrics import metrics; "
            "metrics()['in_progress'].labels('ghost_actor', 'default').inc(3); os._exit(0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=os.environ, timeout=60)
    assert done.returncode == 0
    files = os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert any(name.startswith("gauge_livesum") for name in files)
    text = client.simulate_get("/metrics", headers=admin_headers).text
    assert 'actor="ghost_actor"' not in text
    assert sweep_dead_processes() == []  # already swept by the scrape


def test_each_request_is_counted_under_its_own_route_method_and_status(client, business, admin_headers,
                                                                       clean_queues):
    def scrape_here():
        answer = client.simulate_get("/metrics", headers=admin_headers)
        assert answer.status_code == 200, answer.text
        return samples(answer.text)

    route = "/api/diagnostics/ping"
    before = scrape_here()
    for body in ({}, {"steps": -1}, {}, {"steps": -1}, {}):  # the series alternate: each kept one counts right
        client.simulate_post(route, json=body, headers=business.headers)
    after = scrape_here()

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)
    assert grew("prosaas_http_requests_total", route=route, method="POST", status="202") == 3
    assert grew("prosaas_http_requests_total", route=route, method="POST", status="422") == 2
    assert grew("prosaas_http_request_duration_seconds_count", route=route) == 5
