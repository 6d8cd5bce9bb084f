"""The dashboard in a real headless Chromium against a real web role and a real worker.

Set PROSAAS_DASHBOARD_SCREENSHOT=docs/dashboard.png to also write a screenshot of the page with this data.
"""
import os
import shutil
from pathlib import Path

import pytest

from prosaas.jobs import enqueue_tracked
from tests.machinery.helpers import job_row, marker, wait_status
from tests.support import sample_actors
from tests.support.processes import start_scheduler, wait_for

CHROMIUM = os.environ.get("PROSAAS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = os.environ.get("PROSAAS_DASHBOARD_SCREENSHOT")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"chromium not found at {CHROMIUM} (install it: `make browser` / apt-get install chromium)"),
]


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def _percent(page, job_id: str) -> float:
    value = page.locator(f'#jobs tr[data-job-id="{job_id}"] progress').get_attribute("value", timeout=15000)
    return float(value)


def test_dashboard_shows_live_progress_and_retries_a_failed_job(browser_page, web_server, worker_factory, business,
                                                                make_business, test_env, redis_marks, tmp_logs,
                                                                clean_queues):
    page = browser_page
    worker_factory(queues="default,maintenance")
    scheduler = start_scheduler(tmp_logs) if SCREENSHOT else None
    try:
        batch_marker, poison_marker, letter_marker = marker(), marker(), marker()
        batch = enqueue_tracked(sample_actors.batch_counter, business_id=business.id,
                                kwargs={"marker": batch_marker, "total": 50, "step_ms": 150}).job
        failing = enqueue_tracked(sample_actors.poison, business_id=make_business("Second business").id,
                                  kwargs={"marker": poison_marker}).job
        sample_actors.poison.send(business.id, letter_marker)  # untracked: only a dead letter shows it

        # Log in through the form; the cookie then carries every request of the page.
        page.goto(f"{web_server}/dashboard")
        assert page.url.endswith("/dashboard/login")
        page.fill("#token", test_env["ADMIN_TOKEN"])
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"{web_server}/dashboard")
        page.evaluate("window.__sameDocument = true")

        # The running batch job's bar advances while the page stays the same document.
        wait_for(lambda: job_row(batch.id).status == "running" and job_row(batch.id).processed > 0, 30,
                 what="batch job to make progress")
        first = _percent(page, batch.id)
        wait_for(lambda: _percent(page, batch.id) >= first + 10, 20, interval=0.3, what="progress bar to advance")
        row = page.locator(f'#jobs tr[data-job-id="{batch.id}"]')
        assert "running" in row.inner_text() or "completed" in row.inner_text()
        assert str(business.id) in row.inner_text()
        assert page.evaluate("window.__sameDocument") is True  # refreshed by polling, never reloaded

        # Queues, workers and the failed job with its error.
        wait_status(failing.id, "failed", timeout=60)
        assert redis_marks.runs(poison_marker) == 3
        failed_row = page.locator(f'#failed-jobs tr[data-job-id="{failing.id}"]')
        failed_row.wait_for(timeout=15000)
        assert "poison job always fails" in failed_row.inner_text()
        assert page.locator('#queues tr[data-queue="broadcasts"]').inner_text().count("no consumer") == 1
        assert "default" in page.locator("#workers").inner_text()
        if SCREENSHOT:
            wait_for(lambda: page.locator("#dead-letters tr[data-message-id]").count() >= 2, 20,
                     what="dead letters on the page")
            Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT, full_page=True)

        # Retry: the failed job is queued again and runs its whole retry budget once more.
        failed_row.locator("button.retry").click()
        page.locator("#flash").wait_for(state="visible", timeout=10000)
        assert "queued again" in page.locator("#flash").inner_text()
        wait_for(lambda: redis_marks.runs(poison_marker) == 6, 60, what="retried job to run again")
        wait_status(failing.id, "failed", timeout=60)

        # Requeue a dead letter from the page: the message runs again.
        letter_row = page.locator("#dead-letters tr[data-message-id]", has_text="poison").filter(
            has_not=page.locator(f'code:text("{failing.id[:12]}")')).first
        wait_for(lambda: redis_marks.runs(letter_marker) == 3, 30, what="untracked poison to be dead-lettered")
        letter_row.wait_for(timeout=15000)
        letter_row.locator("button.requeue").click()
        wait_for(lambda: redis_marks.runs(letter_marker) >= 4, 30, what="requeued dead letter to run")
        assert page.evaluate("window.__sameDocument") is True
    finally:
        if scheduler is not None:
            scheduler.stop(timeout=20)
