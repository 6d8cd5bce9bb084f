"""A non-idempotent actor for the ledger chaos test: every run adds a row to `chaos_job_runs` in PostgreSQL.

The count lives in PostgreSQL because the test flushes the Redis database the workers use.
`python -m tests.chaos.ledger_actors N BUSINESS_ID` enqueues N tracked jobs of it (the real API path,
`enqueue_tracked`) into the Redis of its environment and prints their job ids as JSON.
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import dramatiq
from sqlalchemy import text

from prosaas.broker_stack import installed_broker
from prosaas.middleware.tracking import current_job_id
from prosaas.runtime import get_runtime

if __name__ == "__main__":  # run as the enqueuing script: this process is its own entry point
    import prosaas.broker  # noqa: F401  (installs the broker from the environment)
installed_broker()  # the real broker and middleware stack, installed by this process's entry point

RUNS_TABLE = "CREATE TABLE IF NOT EXISTS chaos_job_runs (job_id VARCHAR(32) NOT NULL, pid INTEGER NOT NULL)"


@dramatiq.actor(queue_name="default", max_retries=10, min_backoff=300, max_backoff=3000)
def counted_job(business_id: int, ms: int = 50) -> None:
    with get_runtime().database.transaction() as connection:
        connection.execute(text("INSERT INTO chaos_job_runs (job_id, pid) VALUES (:job_id, :pid)"),
                           {"job_id": current_job_id.get(), "pid": os.getpid()})
    time.sleep(ms / 1000)


def main(count: int, business_id: int) -> None:
    from prosaas.jobs import enqueue_tracked

    with ThreadPoolExecutor(8) as pool:
        job_ids = list(pool.map(lambda _i: enqueue_tracked(counted_job, business_id=business_id,
                                                           kwargs={"ms": 50}).job_id, range(count)))
    print(json.dumps(job_ids), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
