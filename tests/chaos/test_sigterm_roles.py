"""Chaos: SIGTERM every role (worker, scheduler, web) under load: nothing lost, no request cut with a 5xx."""
from __future__ import annotations

import signal
import time

import pytest

from sqlalchemy import func, select

from db.models.core import BackgroundJob
from tests.chaos.helpers import Poster, all_completed, report, rows
from tests.support.processes import start_scheduler, start_web, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]


def test_sigterm_of_every_role_under_load_loses_nothing(tmp_logs, worker_factory, business, runtime):
    web, base = start_web(tmp_logs)
    scheduler = start_scheduler(tmp_logs)
    worker = worker_factory(queues="default", processes=1, greenlets=10)
    poster = Poster(base, business.headers, threads=4, pause=0.02, body={"steps": 3, "step_ms": 100},
                    keepalive=False).start()
    exits = {}
    replacements = []
    try:
        time.sleep(2)
        wait_for(lambda: any(a[1] == 202 for a in poster.answers), 20, what="load flowing")
        worker.signal(signal.SIGTERM)  # running jobs finish within the grace period; queued ones wait
        exits["worker"] = worker.process.wait(60)
        replacements.append(worker_factory(queues="default", processes=1, greenlets=10))
        scheduler.signal(signal.SIGTERM)
        exits["scheduler"] = scheduler.process.wait(30)
        replacements.append(start_scheduler(tmp_logs, name="scheduler-2"))
        time.sleep(1)
        web.signal(signal.SIGTERM)  # gunicorn: stop accepting, finish the requests in flight
        exits["web"] = web.process.wait(60)
        new_web, new_base = start_web(tmp_logs)
        replacements.append(new_web)
        poster.retarget(new_base)
        time.sleep(2)
        poster.stop()
        accepted = poster.accepted()
        wait_for(lambda: all_completed(runtime.database, accepted), 120, interval=1,
                 what="every accepted job completed")
        found = rows(runtime.database, accepted)
        counts = poster.counts()
        with runtime.database.session() as session:
            created = session.scalar(select(func.count()).select_from(BackgroundJob)
                                     .where(BackgroundJob.business_id == business.id))
        report("sigterm_roles", requests=len(poster.answers), answers=dict(counts), exit_codes=exits,
               accepted=len(accepted), rows_created=created, processed_without_answer=created - len(accepted),
               completed=sum(r.status == "completed" for r in found),
               lost=len(accepted) - sum(r.status == "completed" for r in found))
        assert not [code for code in counts if isinstance(code, int) and code >= 500], counts
        # A connection still in the listen backlog when gunicorn closes its socket is reset before the app
        # saw it: no answer, and no job either (checked below), so the client's retry is safe.
        unexpected = {code: n for code, n in counts.items()
                      if not isinstance(code, int) and code not in ("refused", "closed_without_response")}
        assert not unexpected, f"requests failed in an unexpected way: {unexpected}"
        assert created == len(accepted), "a request was processed but its client got no answer"
        assert exits == {"worker": 0, "scheduler": 0, "web": 0}, exits
    finally:
        poster.stop()
        for role in (web, scheduler, *replacements):
            role.stop()
