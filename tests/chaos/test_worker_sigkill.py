"""Chaos: SIGKILL worker roles again and again while 1,000 tracked, non-idempotent-visible jobs run."""
from __future__ import annotations

import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from prosaas.jobs import enqueue_tracked
from tests.chaos import actors
from tests.chaos.helpers import all_completed, report, rows, statuses
from tests.support.processes import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]
JOBS = 1000
KILLS = 3


def test_sigkill_workers_repeatedly_every_job_completes_once(worker_factory, business, runtime, clean_queues):
    marker = secrets.token_hex(4)
    with ThreadPoolExecutor(8) as pool:
        job_ids = list(pool.map(lambda i: enqueue_tracked(actors.chaos_job, business_id=business.id,
                                                          kwargs={"marker": f"{marker}-{i}", "ms": 150}).job_id,
                                range(JOBS)))
    # SQLite (the embedded mode) serialises writers; many greenlets then wait on its lock in C, so fewer.
    greenlets = 4 if runtime.database.is_sqlite else 10
    start = lambda: worker_factory(queues="default", processes=1, greenlets=greenlets,  # noqa: E731
                                   modules=("tests.chaos.actors",))
    roles = [start(), start()]
    killed_pids: set[int] = set()
    for kill in range(KILLS):
        time.sleep(2.5)
        victim = roles.pop(0)
        killed_pids.update(str(pid) for pid in victim.child_pids())
        killed_pids.add(str(victim.pid))
        victim.kill_group()
        roles.append(start())
    try:
        wait_for(lambda: all_completed(runtime.database, job_ids), 180, interval=1,
                 what="every job completed after the kills")
    except AssertionError:
        stuck = [r for r in rows(runtime.database, job_ids) if r.status != "completed"]
        print("NOT COMPLETED:", Counter(r.status for r in stuck),
              [(r.id, r.status, r.attempts, r.worker, r.error_reason, r.heartbeat_at) for r in stuck[:5]])
        for role in roles:
            print("LOG", role.log()[-3000:])
        raise

    client = runtime.redis
    duplicates, explained, finished_twice = 0, 0, 0
    for i in range(JOBS):
        runs = [pid.decode() for pid in client.lrange(actors.mark("runs", f"{marker}-{i}"), 0, -1)]
        finished = [pid.decode() for pid in client.lrange(actors.mark("finished", f"{marker}-{i}"), 0, -1)]
        assert finished, f"job {i} never finished its body"
        if len(runs) > 1:
            duplicates += 1
            # Every run but the last one must have been on a process we killed (at-least-once delivery).
            if all(pid in killed_pids for pid in runs[:-1]):
                explained += 1
        if len(finished) > 1:
            finished_twice += 1
    found = rows(runtime.database, job_ids)
    left_running = [r.id for r in found if r.status == "running"]
    report("worker_sigkill", jobs=JOBS, kills=KILLS, completed=sum(r.status == "completed" for r in found),
           rerun_after_kill=duplicates, rerun_unexplained=duplicates - explained,
           body_finished_twice=finished_twice, attempts_gt_1=sum(r.attempts > 1 for r in found),
           left_running=len(left_running), lost=JOBS - sum(r.status == "completed" for r in found))
    assert not left_running
    assert duplicates == explained, "a job ran twice without its first worker being killed"
    assert set(statuses(runtime.database, job_ids).values()) == {"completed"}
