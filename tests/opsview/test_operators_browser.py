"""The operators' pages in a real headless Chromium against a real web role and real workers.

Set PROSAAS_DASHBOARD_SCREENSHOTS=docs to also write docs/dashboard-*.png (`make screenshot`).
"""
import os
import time
from pathlib import Path

import pytest

from prosaas.job_history import job_attempts
from prosaas.jobs import enqueue_tracked
from tests.machinery.helpers import marker, wait_status
from tests.ops.test_dashboard_browser import CHROMIUM, browser_page  # noqa: F401  (the fixture and its skip)
from tests.opsview import opsview_actors
from tests.support import sample_actors
from tests.support.processes import wait_for

SCREENSHOTS = os.environ.get("PROSAAS_DASHBOARD_SCREENSHOTS")
MODULES = ("tests.support.sample_actors", "tests.opsview.opsview_actors")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"chromium not found at {CHROMIUM} (make browser)"),
]


def _log_in(page, base, token, path="/dashboard"):
    page.goto(f"{base}/dashboard")
    page.fill("#token", token)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    if path != "/dashboard":
        page.goto(f"{base}{path}")


def _screenshot(page, name):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"dashboard-{name}.png"), full_page=True)


def _cell(page, queue, column):
    return int(page.locator(f'#queues tr[data-queue="{queue}"] td').nth(column).inner_text())


def test_pause_a_queue_watch_it_fill_then_resume_and_watch_it_drain(browser_page, web_server, worker_factory,
                                                                     test_env, business, redis_marks, clean_queues,
                                                                     no_paused_queues):
    page = browser_page
    worker_factory(queues="default")
    _log_in(page, web_server, test_env["ADMIN_TOKEN"])
    page.locator('#queues tr[data-queue="default"] button.pause').click()
    page.locator('#queues tr[data-queue="default"][data-paused="true"]').wait_for(timeout=15000)
    assert "paused" in page.locator("#paused-warning").inner_text()
    time.sleep(1.5)  # workers see a pause within a second (their view is refreshed every 0.5 s)

    held = marker()
    for _ in range(30):
        sample_actors.record_run.send(business.id, held)
    wait_for(lambda: _cell(page, "default", 1) == 30, 20, interval=0.3, what="ready count to reach 30 on the page")
    assert redis_marks.runs(held) == 0

    page.locator('#queues tr[data-queue="default"] button.resume').click()
    wait_for(lambda: _cell(page, "default", 1) == 0, 30, interval=0.3, what="the queue to drain on the page")
    wait_for(lambda: redis_marks.runs(held) == 30, 30, what="every held job to run")
    page.locator('#queues tr[data-queue="default"][data-paused="false"]').wait_for(timeout=15000)


def test_the_throughput_chart_shows_a_series_after_100_jobs(browser_page, web_server, worker_factory, test_env,
                                                           business, redis_marks, clean_queues, clean_history):
    page = browser_page
    worker_factory(queues="default", modules=MODULES)
    done, bad = marker(), marker()
    for _ in range(100):
        sample_actors.record_run.send(business.id, done)
    sample_actors.poison.send(business.id, bad)
    wait_for(lambda: redis_marks.runs(done) == 100 and redis_marks.runs(bad) == 3, 60, what="100 jobs to run")
    _log_in(page, web_server, test_env["ADMIN_TOKEN"])
    chart = page.locator("#chart-throughput")
    wait_for(lambda: int(chart.get_attribute("data-total") or 0) >= 103, 30, interval=0.5,
             what="the chart to count the jobs")
    assert page.locator('#chart-throughput g[data-series="processed"] rect').count() >= 1
    assert int(page.locator("#chart-failures").get_attribute("data-total")) >= 3  # 1 failed + 2 retried
    busiest = max(page.locator("#chart-throughput g.hits rect").all(),
                  key=lambda rect: int(rect.get_attribute("data-processed")))
    busiest.hover()
    page.locator("#chart-tip").wait_for(state="visible", timeout=5000)
    assert "processed" in page.locator("#chart-tip").inner_text()
    _screenshot(page, "overview")


def test_the_tenant_page_shows_slots_in_use_while_slot_limited_jobs_run(browser_page, web_server, worker_factory,
                                                                        test_env, make_business, clean_queues):
    page = browser_page
    tenant = make_business("Acme Dental")
    worker_factory(queues="recordings", greenlets=10)
    mark = marker()
    jobs = [enqueue_tracked(sample_actors.limited, business_id=tenant.id, kwargs={"marker": mark, "ms": 4000}).job_id
            for _ in range(7)]
    _log_in(page, web_server, test_env["ADMIN_TOKEN"], "/dashboard/tenants")
    page.locator(f'#tenants tr[data-business-id="{tenant.id}"]').wait_for(timeout=15000)
    page.locator(f'#tenants tr[data-business-id="{tenant.id}"] a').first.click()
    page.wait_for_url(f"{web_server}/dashboard/tenants/{tenant.id}")
    page.locator('#slots tr[data-actor="limited"][data-in-use="3"]').wait_for(timeout=20000)
    page.locator('#waiting tr[data-actor="limited"]').wait_for(timeout=10000)
    assert page.locator("#running-jobs tr[data-job-id]").count() == 3
    _screenshot(page, "tenant")
    if SCREENSHOTS:
        page.goto(f"{web_server}/dashboard/tenants")
        page.locator(f'#tenants tr[data-business-id="{tenant.id}"]').wait_for(timeout=15000)
        _screenshot(page, "tenants")
        page.go_back()
    for job_id in jobs:
        wait_status(job_id, "completed", timeout=90)
    # The web role does not declare this test-only actor: once no slot is in use, its row is gone.
    page.locator('#slots tr[data-actor="limited"][data-in-use="3"]').wait_for(state="detached", timeout=20000)


def test_a_filter_finds_a_failed_job_and_a_bulk_retry_completes_it(browser_page, web_server, worker_factory, test_env,
                                                                   business, runtime, redis_marks, clean_queues):
    page = browser_page
    worker_factory(queues="default,maintenance", modules=MODULES)
    case = marker()
    runtime.redis.set(redis_marks.key("broken", case), 1)
    job = enqueue_tracked(opsview_actors.broken_until_fixed, business_id=business.id, kwargs={"marker": case}).job_id
    wait_status(job, "failed")
    wait_for(lambda: job_attempts(runtime.redis, runtime.keys, job), 10, what="the attempt to be recorded (~1 s)")
    runtime.redis.delete(redis_marks.key("broken", case))  # the fix is deployed

    _log_in(page, web_server, test_env["ADMIN_TOKEN"], "/dashboard/jobs")
    page.select_option('#job-filters select[name="status"]', "failed")
    page.fill('#job-filters input[name="q"]', f"case {case}")
    page.click("#job-filters button[type=submit]")
    row = page.locator(f'#results tr[data-job-id="{job}"]')
    row.wait_for(timeout=10000)
    assert page.locator("#results tr[data-job-id]").count() == 1
    row.click()
    page.locator(f'#job-detail[data-job-id="{job}"]').wait_for(timeout=10000)
    assert case in page.locator("#job-detail .job-args").inner_text()
    assert "upstream rejected the call" in page.locator("#job-detail table.attempts").inner_text()
    _screenshot(page, "jobs")

    page.click("#bulk-retry")
    page.locator("#bulk-confirm").wait_for(state="visible", timeout=10000)
    assert page.locator("#bulk-confirm").get_attribute("data-count") == "1"
    assert "1 affected" in page.locator("#bulk-question").inner_text()
    page.click("#bulk-go")
    page.locator('#bulk-progress[data-status="completed"]').wait_for(timeout=60000)
    wait_status(job, "completed", timeout=30)
    assert redis_marks.runs(case) == 2
