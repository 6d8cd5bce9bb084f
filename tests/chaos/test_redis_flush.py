"""Chaos: FLUSHDB on a PRIVATE valkey in the middle of 1,000 tracked jobs: every job still runs, exactly once."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.chaos.helpers import all_completed, report, statuses
from tests.support.environment import REPO_ROOT
from tests.support.private_servers import PrivateValkey
from tests.support.processes import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]
JOBS = 1000


def test_flushdb_mid_run_every_tracked_job_completes_exactly_once(worker_factory, business, runtime):
    from tests.chaos.ledger_actors import RUNS_TABLE
    from tests.machinery.helpers import retire_earlier_tests_rows

    retire_earlier_tests_rows()  # the reconciler under test resends only this test's jobs
    with runtime.database.transaction() as connection:
        connection.execute(text(RUNS_TABLE))
        connection.execute(text("DELETE FROM chaos_job_runs"))
    valkey = PrivateValkey().start()
    env = {"REDIS_URL": valkey.url, "RECONCILE_AFTER_SECONDS": "3"}
    worker = None
    try:
        enqueued = subprocess.run([sys.executable, "-m", "tests.chaos.ledger_actors", str(JOBS), str(business.id)],
                                  cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True,
                                  text=True, timeout=300)
        assert enqueued.returncode == 0, enqueued.stderr[-3000:]
        job_ids = json.loads(enqueued.stdout.strip().splitlines()[-1])
        assert len(set(job_ids)) == JOBS
        worker = worker_factory(queues="default", processes=2, greenlets=5, modules=("tests.chaos.ledger_actors",),
                                env=env)

        def completed() -> int:
            return sum(status == "completed" for status in statuses(runtime.database, job_ids).values())
        wait_for(lambda: completed() >= 150, 120, interval=0.2, what="150 jobs to complete before the flush")
        valkey.client().flushdb()
        done_at_flush = completed()
        wait_for(lambda: all_completed(runtime.database, job_ids), 300, interval=1,
                 what="every accepted job completed after FLUSHDB")
        with runtime.database.transaction() as connection:
            runs = dict(connection.execute(text("SELECT job_id, count(*) FROM chaos_job_runs GROUP BY job_id")).all())
        twice = {job_id: count for job_id, count in runs.items() if count != 1}
        log = worker.log()
        resent = log.count("JOB_RESENT reason=message_missing")
        report("redis_flushdb", jobs=JOBS, completed_at_flush=done_at_flush, resent=resent,
               ran_once=sum(1 for c in runs.values() if c == 1), ran_more_than_once=len(twice),
               never_ran=JOBS - len(set(runs) & set(job_ids)))
        assert done_at_flush < JOBS, "every job finished before the flush: nothing was tested"
        assert resent > 0
        assert not twice, f"jobs run more than once: {list(twice.items())[:5]}"
        assert set(runs) == set(job_ids)
    finally:
        # The worker first: stopped after its Redis is gone, it would wait out the whole stop timeout.
        if worker is not None:
            worker.stop()
        valkey.close()
