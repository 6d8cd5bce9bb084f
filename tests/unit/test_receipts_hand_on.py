"""A long receipt deletion hands itself on counting from when its message's run began, not from its own start.

The first message a worker runs builds the storage client; on a loaded machine that took seconds, the
deletion's own clock started after it, and Dramatiq's TimeLimit (which counts from the message's start)
killed the run before it handed on: a retry 30 s later and `attempts == 2` instead of a hand-on.
"""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import dramatiq
from dramatiq.middleware import CurrentMessage

from actors.receipts_work import delete_receipts
from db import receipts_store
from prosaas.clients import storage
from tests.support.processes import wait_for

TIME_LIMIT_S = 1.0
SETUP_S = 0.85  # more than the limit minus its hand-on margin (a fifth of it): time left for one batch only


def seed(runtime, business_id: int, count: int) -> None:
    store = storage.from_settings(runtime.settings)
    rows = []
    for index in range(count):
        key = f"receipts/{business_id}/{index:04d}.pdf"
        store.put(key, b"%PDF-1.4 x", "application/pdf")
        rows.append(dict(business_id=business_id, vendor="V", amount=Decimal("1.00"), currency="USD",
                         issued_at=dt.date(2026, 1, 1), storage_key=key, content_type="application/pdf",
                         size_bytes=10))
    with runtime.database.session() as session:
        receipts_store.add_receipts(session, rows)


def test_setup_time_before_the_deletion_counts_against_its_time_limit(stub_broker, stub_worker, start_tracked,
                                                                      job_row, business, runtime):
    seed(runtime, business.id, 100)
    runs = []

    def slow_first_setup_deletion(business_id):
        continuation = CurrentMessage.get_current_message().options.get("continuation", 0)
        if not continuation:
            time.sleep(SETUP_S)  # the first message of a process builds its storage client
        runs.append(continuation)
        return delete_receipts(runtime.database, storage.from_settings(runtime.settings), business_id, None,
                               backoff_base_seconds=0.1, time_limit_s=TIME_LIMIT_S)

    actor = dramatiq.actor(slow_first_setup_deletion, broker=stub_broker, queue_name="maintenance", batch=True,
                           job_type="receipts_delete")
    job_id = start_tracked(actor, business.id)
    row = wait_for(lambda: (lambda row: row if row.status in ("completed", "failed") else None)(job_row(job_id)),
                   30, interval=0.05, what="the deletion job to end")
    assert row.status == "completed" and row.attempts == 1 and row.processed == 100
    # Only one batch fitted in what the slow setup left of the first run's limit: it handed on after it.
    assert runs[:2] == [0, 1] and row.cursor["deleted"] == 100
