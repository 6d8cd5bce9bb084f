"""Chaos: restart a PRIVATE valkey (append-only file) under web, worker and scheduler while jobs flow."""
from __future__ import annotations

import time

import pytest
import requests

from tests.chaos.helpers import Poster, all_completed, report, statuses
from tests.support.private_servers import PrivateValkey
from tests.support.processes import start_scheduler, start_web, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]


def test_redis_restart_loses_no_job_and_everything_reconnects(tmp_logs, worker_factory, business, runtime):
    valkey = PrivateValkey().start()
    env = {"REDIS_URL": valkey.url}
    web, base = start_web(tmp_logs, env=env)
    scheduler = start_scheduler(tmp_logs, env=env)
    worker = worker_factory(queues="default", processes=1, greenlets=4, env=env)
    poster = None
    try:
        # A backlog that cannot drain before the restart: 4 greenlets, 200 ms per job.
        queued = []
        for _ in range(120):
            response = requests.post(f"{base}/api/diagnostics/ping", json={"steps": 2, "step_ms": 100},
                                     headers=business.headers, timeout=10)
            assert response.status_code == 202, response.text
            queued.append(response.json()["job_id"])
        poster = Poster(base, business.headers, threads=3, pause=0.05).start()
        time.sleep(1)
        valkey.stop()  # SIGTERM: valkey flushes its append-only file
        down_at = time.monotonic()
        waiting_in_redis = list(statuses(runtime.database, queued).values()).count("queued")
        time.sleep(4)
        restarting_at = time.monotonic()
        valkey.start()
        up_at = time.monotonic()
        wait_for(lambda: any(a[0] > up_at and a[1] == 202 for a in poster.answers), 30,
                 what="the API to accept jobs again")
        recovered_after = min(a[0] for a in poster.answers if a[0] > up_at and a[1] == 202) - up_at
        time.sleep(1)
        poster.stop()
        accepted = poster.accepted()
        every_job = set(queued) | set(accepted)
        wait_for(lambda: all_completed(runtime.database, every_job), 150, interval=1,
                 what="every accepted job completed")
        during = poster.between(down_at, restarting_at)
        # The worker and scheduler kept running and reconnected by themselves.
        assert worker.process.poll() is None and scheduler.process.poll() is None
        wait_for(lambda: valkey.client().hlen(runtime.keys("schedulers")) >= 1, 30, what="scheduler heartbeat")
        wait_for(lambda: valkey.client().hlen(runtime.keys("workers")) >= 1, 30, what="worker heartbeat")
        found = statuses(runtime.database, every_job)
        report("redis_restart", queued_before=len(queued), still_queued_at_stop=waiting_in_redis,
               accepted_during_run=len(accepted),
               answers=dict(poster.counts()), answers_while_down=sorted(set(map(str, during))),
               api_back_after_s=round(recovered_after, 2), completed=sum(s == "completed" for s in found.values()),
               lost=len(every_job) - sum(s == "completed" for s in found.values()))
        assert not poster.server_errors(), poster.server_errors()[:5]
        assert during and set(during) <= {503}, f"while Redis was down the API answered {set(during)}"
        assert 500 not in poster.counts()
        assert waiting_in_redis > 0, "the backlog drained before the restart: nothing was tested"
    finally:
        if poster:
            poster.stop()
        web.stop()
        scheduler.stop()
        worker.stop()
        valkey.close()
