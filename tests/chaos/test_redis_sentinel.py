"""Chaos: Redis behind Sentinel (master, replica, three sentinels; Debian's redis-server), the master SIGKILLed
while 500 tracked jobs are in flight. Web, worker, two schedulers and the CLI follow the promotion without a
restart: the API answers 503 during the switch and 202 after it, every tick fires once."""
from __future__ import annotations

import re
import threading
import time
from collections import Counter

import pytest
import requests

from prosaas.settings import Settings
from tests.chaos.helpers import Poster, report, statuses
from tests.support.processes import run_cli, start_scheduler, start_web, wait_for
from tests.support.sentinel_servers import SentinelGroup, redis_server_binary

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

JOBS = 500
RECONCILER = "reconcile_after_seconds" in Settings.model_fields  # the ledger's reconciler resends lost messages


@pytest.fixture
def sentinels():
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (`make test` installs Debian's redis-server)")
    group = SentinelGroup().start()
    yield group
    group.close()


def post_many(base: str, headers: dict, count: int, threads: int = 4) -> list[str]:
    accepted, lock = [], threading.Lock()

    def run(share: int):
        with requests.Session() as session:
            for _ in range(share):
                answer = session.post(f"{base}/api/diagnostics/ping", json={"steps": 2, "step_ms": 50},
                                      headers=headers, timeout=30)
                assert answer.status_code == 202, answer.text
                with lock:
                    accepted.append(answer.json()["job_id"])
    workers = [threading.Thread(target=run, args=(count // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return accepted


def fired_ticks(*schedulers) -> Counter:
    return Counter(match for role in schedulers
                   for match in re.findall(r"TICK_FIRED actor=(\S+) tick=(\S+)", role.log()))


def test_master_killed_under_load_every_role_follows_the_failover(tmp_logs, worker_factory, business, runtime,
                                                                   sentinels):
    env = {**sentinels.env(), "SCHEDULER_TICK_SECONDS": "2", "WORKER_DEAD_AFTER_SECONDS": "5"}
    if RECONCILER:
        env["RECONCILE_AFTER_SECONDS"] = "5"
        from tests.machinery.helpers import retire_earlier_tests_rows

        retire_earlier_tests_rows()  # the reconciler then resends only this test's jobs, not earlier tests'
    web, base = start_web(tmp_logs, env=env)
    schedulers = [start_scheduler(tmp_logs, env=env, name=f"scheduler-{i}") for i in (1, 2)]
    worker = worker_factory(queues="default", processes=1, greenlets=8, env=env)
    poster = None
    try:
        before = run_cli("doctor", env=env)
        assert f"127.0.0.1:{sentinels.master_port}, seen by 3 of 3 sentinel(s)" in before.stdout, before.stdout
        queued = post_many(base, business.headers, JOBS)
        poster = Poster(base, business.headers, threads=2, pause=0.05).start()
        wait_for(lambda: 20 <= list(statuses(runtime.database, queued).values()).count("completed"), 60,
                 interval=0.2, what="the jobs to be under way")
        in_flight = JOBS - list(statuses(runtime.database, queued).values()).count("completed")
        killed_at = sentinels.kill_master()
        still_old_at, promoted_at = sentinels.wait_promoted()
        wait_for(lambda: any(a[3] > promoted_at and a[1] == 202 for a in poster.answers), 30,
                 what="the API to answer 202 again within 30 s of the promotion")
        back_after = min(a[0] for a in poster.answers if a[3] > promoted_at and a[1] == 202) - promoted_at
        time.sleep(2)
        poster.stop()
        every_job = set(queued) | set(poster.accepted())

        def settled():  # done, or stopped moving for 20 s (what Redis never received stays queued)
            found = Counter(statuses(runtime.database, every_job).values())
            settled.history.append((time.monotonic(), found["completed"]))
            if found["completed"] == len(every_job):
                return True
            earlier = [n for at, n in settled.history if at < time.monotonic() - 20]
            return not RECONCILER and bool(earlier) and earlier[-1] == found["completed"]
        settled.history = []
        wait_for(settled, 180, interval=1, what="every accepted job to complete")
        found = statuses(runtime.database, every_job)
        lost = sorted(job for job in every_job if found.get(job) != "completed")
        after = run_cli("doctor", env=env)
        info = run_cli("info", env=env)
        ticks = fired_ticks(*schedulers)
        alive = [role.process.poll() is None for role in (web, worker, *schedulers)]
        during = poster.between(killed_at, still_old_at)  # answered while every sentinel named the dead master
        report("redis_sentinel_failover", jobs=JOBS, in_flight_at_kill=in_flight,
               promotion_after_s=round(promoted_at - killed_at, 2), api_202_after_promotion_s=round(back_after, 2),
               answers_during_switch=dict(Counter(map(str, during))), accepted_total=len(every_job),
               completed=len(every_job) - len(lost), lost=len(lost), lost_statuses=dict(Counter(found.get(j)
                                                                                             for j in lost)),
               lost_ids=",".join(lost[:20]) or "-", reconciler=RECONCILER, ticks_fired=sum(ticks.values()),
               duplicate_ticks=sum(n - 1 for n in ticks.values() if n > 1))
        assert all(alive), "a role exited instead of following the failover"
        assert during and set(during) <= {503}, f"during the switch the API answered {Counter(during)}"
        assert not poster.server_errors(), poster.server_errors()[:5]
        assert f"127.0.0.1:{sentinels.replica_port}, seen by" in after.stdout, after.stdout
        assert f"127.0.0.1:{sentinels.replica_port}" in info.stdout, info.stdout
        assert not [t for t, n in ticks.items() if n > 1], f"ticks fired twice: {ticks}"
        assert ticks, "no tick fired at all"
        if RECONCILER:
            assert not lost, f"{len(lost)} accepted jobs never completed"
        else:  # only messages the replica never received may be missing: their rows still wait, never ran
            assert set(found.get(j) for j in lost) <= {"queued"}, f"lost jobs not merely unsent: {lost[:10]}"
    finally:
        if poster:
            poster.stop()
        for role in (web, worker, *schedulers):  # before the servers go: a role stops faster with its Redis
            role.stop()
