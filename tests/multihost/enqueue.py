"""Run on host ctl by the multi-host suite: make a business and enqueue N tracked `count_once` jobs.

Prints one JSON line: {"business_id", "api_key", "job_ids"}.
"""
from __future__ import annotations

import json
import sys

from sqlalchemy import text

from db.businesses import create_business
from prosaas.jobs import enqueue_tracked
from prosaas.runtime import get_runtime
import prosaas.broker  # noqa: F401,E402  (this script is a process entry point: it installs the broker)
from tests.multihost.actors import COUNTS_TABLE, count_once


def main(count: int) -> None:
    database = get_runtime().database
    with database.transaction() as connection:
        connection.execute(text(COUNTS_TABLE))
    with database.session() as session:
        business, api_key = create_business(session, "multihost")
        business_id = business.id
    job_ids = [enqueue_tracked(count_once, business_id=business_id, kwargs={}).job_id for _ in range(count)]
    print(json.dumps({"business_id": business_id, "api_key": api_key, "job_ids": job_ids}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
