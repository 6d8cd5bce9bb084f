"""One hop for accepted jobs (prosaas/accept.py): concurrent `enqueue_tracked` calls commit their rows and send
their messages through ONE handler, rows before messages. (Redis down while accepting: tests/chaos/test_redis_restart.py.)"""
from __future__ import annotations

import pytest

from db.models.core import JobStatus
from prosaas.jobs import accept_writer, enqueue_tracked
from tests.machinery.helpers import job_row
from tests.machinery.test_group_send import queued_messages, run_together
from tests.support import sample_actors


def test_concurrent_accepts_commit_rows_and_send_messages_in_one_hop(broker, runtime, business, clean_queues):
    if runtime.database.is_sqlite:
        pytest.skip("SQLite commits each row alone: there is no group to hand off")
    accept = accept_writer(runtime.database, broker)
    accepted_before, sends_before = accept.writes_written, broker.sends.writes_written
    found = run_together(100, lambda i: enqueue_tracked(sample_actors.record_run, business_id=business.id,
                                                        kwargs={"marker": f"hop-{i}"}))
    assert not [e for e in found if isinstance(e, Exception)], found
    queued = {m.options["job_id"]: m for m in queued_messages(runtime, "default")}
    assert sorted(queued) == sorted(e.job_id for e in found)  # every row's message, once
    assert all(job_row(e.job_id).status == JobStatus.QUEUED for e in found)
    assert accept.writes_written - accepted_before == 100
    assert broker.sends.writes_written == sends_before  # no second hand-off to the group sender
