"""New job rows by group commit (db/job_inserts.py) against the run's real database, from many threads.

A row lock taken from a second connection on the businesses row holds the writer inside its INSERT (the
foreign-key check waits for it), so the next batch's contents are known without timing.
"""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import text

from db.base import new_id
from db.group_commit import GroupWriteFailed
from db.job_inserts import JobInsertWriter
from db.job_store import new_job_row
from tests.machinery.helpers import job_row
from tests.support.processes import wait_for

postgres_only = pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("sqlite"),
                                   reason="group commit is PostgreSQL's path; SQLite writes each row alone")


def row_for(business_id: int) -> dict:
    return new_job_row(job_id=new_id(), business_id=business_id, type="noop", actor_name="noop",
                       queue="default", message_id=new_id(), args={"n": 1})


def insert_in_threads(writer, rows) -> dict[str, object]:
    outcome: dict[str, object] = {}

    def run(row):
        try:
            outcome[row["id"]] = writer.insert(row)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcome[row["id"]] = exc
    threads = [threading.Thread(target=run, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    return outcome, threads


def insert_all_in_threads(writer, rows) -> None:
    """Insert every row from its own thread; each insert must succeed."""
    outcome, threads = insert_in_threads(writer, rows)
    for thread in threads:
        thread.join(60)
    assert all(not isinstance(v, Exception) for v in outcome.values()), outcome


def test_rows_from_many_threads_are_all_committed_and_answered(runtime, business):
    writer = JobInsertWriter(runtime.database)
    rows = [row_for(business.id) for _ in range(200)]
    insert_all_in_threads(writer, rows)
    for row in rows:
        stored = job_row(row["id"])
        assert stored.status == "queued" and stored.business_id == business.id and stored.args == {"n": 1}
    if not runtime.database.is_sqlite:
        assert writer.writes_written == 200 and writer.batches_written < 200  # rows went in together


@postgres_only
def test_one_bad_row_fails_only_its_own_request(runtime, business):
    writer = JobInsertWriter(runtime.database)
    holder = runtime.database.engine.connect()
    transaction = holder.begin()
    holder.execute(text("SELECT id FROM businesses WHERE id = :id FOR UPDATE"), {"id": business.id})
    try:
        first = row_for(business.id)  # its INSERT waits on the lock: the next rows pile up behind it
        blocked, first_threads = insert_in_threads(writer, [first])
        wait_for(lambda: writer.pending == 0 and writer.batches_written == 0, 10, what="the writer to be inside")
        rows = [row_for(business.id) for _ in range(5)] + [row_for(987_654_321)]  # no such business
        outcome, threads = insert_in_threads(writer, rows)
        wait_for(lambda: writer.pending == len(rows), 10, what="the next batch to gather")
    finally:
        transaction.rollback()
        holder.close()
    for thread in first_threads + threads:
        thread.join(60)
    assert not isinstance(blocked[first["id"]], Exception)
    bad = outcome[rows[-1]["id"]]
    assert isinstance(bad, Exception) and "foreign key" in str(bad).lower()
    for row in rows[:-1]:
        assert not isinstance(outcome[row["id"]], Exception) and job_row(row["id"]).status == "queued"
    assert job_row(rows[-1]["id"]) is None


@postgres_only
def test_a_database_error_fails_every_request_of_the_batch_with_its_cause(runtime, business, test_env):
    from db.session import Database

    writer = JobInsertWriter(Database(test_env["DATABASE_URL"].rsplit("/", 1)[0] + "/no_such_database_here"))
    with pytest.raises(GroupWriteFailed) as raised:
        writer.insert(row_for(business.id))
    assert "no_such_database_here" in str(raised.value.__cause__)


class CommittedProbe(JobInsertWriter):
    """Looks from another connection, right after the batch's INSERT returns, at which of its rows are visible."""

    def __init__(self, database):
        super().__init__(database)
        self.visible_after_statement: list[tuple[int, int]] = []  # (rows seen, rows written) per batch

    def write_batch(self, connection, batch):
        super().write_batch(connection, batch)
        ids = [write.row["id"] for write in batch]
        with self.database.engine.connect() as other:
            found = other.execute(text("SELECT count(*) FROM background_jobs WHERE id = ANY(:ids)"), {"ids": ids})
            self.visible_after_statement.append((found.scalar(), len(ids)))


@postgres_only
def test_a_batch_is_committed_by_its_insert_alone(runtime, business):
    # One round trip per batch: no BEGIN before the INSERT, no COMMIT after it (autocommit, still durable).
    writer = CommittedProbe(runtime.database)
    rows = [row_for(business.id) for _ in range(20)]
    insert_all_in_threads(writer, rows)
    assert writer.visible_after_statement and all(seen == written for seen, written in writer.visible_after_statement)
