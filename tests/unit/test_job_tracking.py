"""JobTracking and ProsaasRetries in process: a job row follows its message's fate (claim, retries, outcome).

The real-worker tier (tests/machinery/test_tracking_and_retries.py) keeps what only real workers show:
time limits under gevent, dead letters in Redis and their requeue, resume through the real broker.
"""
import time

import dramatiq
import pytest

from db.models.core import JobControl
from prosaas.errors import BadInput
from prosaas.jobs import JobProgress, control_job


@pytest.fixture
def runs():
    return []


@pytest.fixture
def actors(stub_broker, runs):
    def poison(business_id):
        runs.append("poison")
        raise RuntimeError("poison job always fails")

    def bad_input(business_id):
        runs.append("bad_input")
        raise BadInput("the payload is not usable")

    def counter(business_id, total=40, step_ms=20):
        progress = JobProgress.current()
        start = (progress.load().cursor or {}).get("next", 0)
        progress.update(total=total)
        for index in range(start, total):
            runs.append(index)
            time.sleep(step_ms / 1000)
            action = progress.update(processed=index + 1, succeeded=index + 1, cursor={"next": index + 1})
            if action:
                return progress.honour(action)
        return {"counted": total}

    return {
        "poison": dramatiq.actor(poison, broker=stub_broker, max_retries=2, min_backoff=10, max_backoff=20),
        "bad_input": dramatiq.actor(bad_input, broker=stub_broker, max_retries=3, min_backoff=10),
        "counter": dramatiq.actor(counter, broker=stub_broker, queue_name="maintenance", batch=True,
                                  job_type="test_batch"),
    }


def test_a_failing_job_runs_its_retries_then_its_row_is_failed_with_the_cause(actors, stub_broker, stub_worker,
                                                                             start_tracked, job_row, business, runs):
    job_id = start_tracked(actors["poison"], business.id)
    stub_broker.join("default", fail_fast=False)
    stub_worker.join()
    row = job_row(job_id)
    assert runs == ["poison"] * 3 and row.attempts == 3
    assert row.status == "failed" and row.error_reason == "RuntimeError" and "poison job always fails" in row.error
    assert len(stub_broker.dead_letters) == 1


def test_bad_input_is_not_retried(actors, stub_broker, stub_worker, start_tracked, job_row, business, runs):
    job_id = start_tracked(actors["bad_input"], business.id)
    stub_broker.join("default", fail_fast=False)
    stub_worker.join()
    row = job_row(job_id)
    assert runs == ["bad_input"]
    assert (row.status, row.error_reason) == ("failed", "bad_input") and "not usable" in row.error


def test_a_finished_job_delivered_again_is_skipped(actors, stub_broker, stub_worker, start_tracked, job_row,
                                                   business, runs):
    job_id = start_tracked(actors["counter"], business.id, total=2, step_ms=0)
    stub_broker.join("maintenance")
    row = job_row(job_id)
    assert (row.status, row.result, row.processed) == ("completed", {"counted": 2}, 2)
    stub_broker.enqueue(actors["counter"].message_with_options(kwargs={"business_id": business.id, "total": 2},
                                                               job_id=job_id, business_id=business.id))
    stub_broker.join("maintenance")
    stub_worker.join()
    assert runs == [0, 1] and job_row(job_id).attempts == 1


@pytest.mark.parametrize("action", [JobControl.PAUSE, JobControl.CANCEL])
def test_a_batch_job_honours_pause_and_cancel_between_batches(action, actors, stub_broker, stub_worker,
                                                              start_tracked, job_row, business, runs):
    job_id = start_tracked(actors["counter"], business.id)
    deadline = time.monotonic() + 30
    while job_row(job_id).processed < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    control_job(job_id, business.id, action, broker=stub_broker)
    stub_broker.join("maintenance")
    stub_worker.join()
    row = job_row(job_id)
    assert row.status == ("paused" if action is JobControl.PAUSE else "cancelled")
    assert 3 <= row.processed == len(runs) < 40 and row.cursor == {"next": row.processed}
    assert (row.finished_at is not None) is (action is JobControl.CANCEL)


def test_a_result_json_cannot_encode_still_completes_the_job_with_its_values_as_text(stub_broker, stub_worker,
                                                                                     start_tracked, job_row,
                                                                                     business):
    """A result holding a datetime or a Decimal used to raise in the outcome write: the message was acked and
    the row stayed `running` for good."""
    import datetime as dt
    from decimal import Decimal

    def dated(business_id):
        return {"at": dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.timezone.utc), "total": Decimal("12.50"), "n": 3}

    actor = dramatiq.actor(dated, broker=stub_broker, max_retries=0)
    job_id = start_tracked(actor, business.id)
    stub_broker.join("default", fail_fast=False)
    stub_worker.join()
    row = job_row(job_id)
    assert row.status == "completed", (row.status, row.error)
    assert row.result == {"at": "2026-11-30 02:00:00+00:00", "total": "12.50", "n": 3}
