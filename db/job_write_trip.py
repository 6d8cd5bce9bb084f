"""A worker process's batch of claims and completions in ONE round trip to PostgreSQL.

Through SQLAlchemy a batch took five: BEGIN, the plan settings, the completions' UPDATE, the claims' UPDATE
and COMMIT. On this kind of machine each round trip is a send that wakes the server and a wait (a large
share of a tracked job's CPU, bench/README.md). Here the job-write batcher keeps one connection of its own
(autocommit, the plan settings set once for the session) and sends the two UPDATEs as one simple-protocol
query: PostgreSQL runs the statements of one query string as ONE implicit transaction,
so the batch commits whole or not at all, as before. The claims' UPDATE comes last: its RETURNING is the
query's result.

Only batches of claims and completions go this way (nearly all of them); failures, retries and SQLite take
the SQLAlchemy transaction (db/job_batcher.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Optional

from db.job_statements import CLAIM_JOBS_BATCH, COMPLETE_JOBS_BATCH

# The batcher's session never needs a plan that reads the whole table (see job_batcher.PLAN_BY_PRIMARY_KEY).
SESSION_PLAN_SETTINGS = ("SET enable_seqscan = off; SET enable_bitmapscan = off; "
                         "SET enable_hashjoin = off; SET enable_mergejoin = off")


class JobWriteTrip:
    """The batcher's own PostgreSQL connection; `write(completions, claims)` returns the claimed ids.

    Opened on first use in each process and reopened after a failure; a forked child never touches its
    parent's (the connection object is kept, unclosed, so its socket stays the parent's).
    """

    _inherited: list = []  # connections of a parent process: never closed nor used here

    def __init__(self, engine_of):
        self._engine_of = engine_of  # () -> the engine to take the connection from (durable commits)
        self._connection = None

    def forget_after_fork(self) -> None:
        if self._connection is not None:
            JobWriteTrip._inherited.append(self._connection)
        self._connection = None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - already broken: nothing to release
                pass

    def write(self, now: dt.datetime, completed_ids: list[str], results: list[Optional[str]],
              claims: Iterable[tuple[str, str, dt.datetime]]) -> set[str]:
        """Complete `completed_ids` (with their encoded results) and claim `claims` (job id, worker, stale
        before) in one transaction; the ids claimed. Raises the driver's error (nothing written) and drops
        the connection if it broke."""
        claims = list(claims)
        connection = self._open()
        try:
            with connection.cursor() as cursor:
                parts = []
                if completed_ids:
                    parts.append(cursor.mogrify(COMPLETE_JOBS_BATCH, {"now": now, "ids": completed_ids,
                                                                      "results": results}))
                if claims:
                    parts.append(cursor.mogrify(CLAIM_JOBS_BATCH, {
                        "now": now, "ids": [c[0] for c in claims], "workers": [c[1] for c in claims],
                        "stale": [c[2] for c in claims]}))
                if not parts:
                    return set()
                cursor.execute(b";\n".join(parts))
                return {row[0] for row in cursor.fetchall()} if claims else set()
        except Exception:
            if getattr(connection, "closed", 1) or not _usable(connection):
                self.close()
            raise

    def _open(self):
        """The connection, opened if needed. After the server restarted, the pool may still hold connections
        to the old one: each found dead is closed and the next taken (a fresh one at the latest), so one
        batch, not one caller's retry per dead connection, gets past them."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        engine = self._engine_of()
        attempts = engine.pool.size() + 2  # the pool keeps at most size() idle connections
        for attempt in range(attempts):
            fairy = engine.raw_connection()
            fairy.detach()  # this connection is the batcher's alone, never handed back to the pool
            connection = fairy.dbapi_connection
            try:
                connection.autocommit = True
                with connection.cursor() as cursor:
                    cursor.execute(SESSION_PLAN_SETTINGS)
            except Exception:
                connection.close()
                if attempt == attempts - 1:
                    raise
                continue
            self._connection = connection
            return connection


def _usable(connection) -> bool:
    """After an error: is the connection still fine for the next batch (a statement error, not a broken link)?"""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001
        return False
