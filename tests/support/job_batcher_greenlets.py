"""Run by a test: a gevent-patched process whose greenlets claim, re-claim and complete the job ids on stdin.

Prints one JSON line: how many claims ran / deferred, and the batcher's write and batch counts.
"""
from gevent import monkey

monkey.patch_all()

import collections  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

from db.base import utcnow  # noqa: E402
from db.job_batcher import JobWriteBatcher  # noqa: E402
from db.session import Database  # noqa: E402
from prosaas.gevent_support import patch_psycopg_if_gevent  # noqa: E402


def main() -> None:
    patch_psycopg_if_gevent()
    batcher = JobWriteBatcher(Database(os.environ["DATABASE_URL"]))
    actions = collections.Counter()

    def lifecycle(job_id: str) -> None:
        for _ in range(2):  # the second is a duplicate delivery while the job runs
            actions[batcher.claim(job_id, worker="greenlets:1",
                                  stale_before=utcnow() - dt.timedelta(seconds=60)).action] += 1
        batcher.finish(job_id, status="completed", result={"job": job_id})

    ids = sys.stdin.read().split()
    gevent.joinall([gevent.spawn(lifecycle, job_id) for job_id in ids], raise_error=True)
    print(json.dumps({"actions": dict(actions), "writes": batcher.writes_written,
                      "batches": batcher.batches_written}))


if __name__ == "__main__":
    main()
