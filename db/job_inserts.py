"""New job rows by group commit: the web's concurrent requests share one durable INSERT and one commit.

Every accepted job needs its `background_jobs` row committed (durably: the 202 promises it) before its
message is sent. One commit per request made PostgreSQL's WAL flush and SQLAlchemy's unit of work the API's
ceiling (figures in bench/README.md); here the rows that arrive while the previous INSERT is in flight go in
together, one multi-row INSERT and one commit for all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError

from db import job_statements
from db.group_commit import GroupCommitWriter, Write


@dataclass(eq=False)
class JobInsert(Write):
    row: dict[str, Any] = None  # column -> value, every column of background_jobs


class JobInsertWriter(GroupCommitWriter[JobInsert]):
    """Inserts new (non-batch) job rows for this process, durably, in groups.

    >>> rows = JobInsertWriter(database)
    >>> rows.insert(new_job_row(job_id=..., business_id=7, ...))   # committed when it returns
    """

    thread_name = "job-insert-writer"
    batch_is_one_statement = True  # write_batch: one multi-row INSERT

    def __init__(self, database, *, max_batch: int = 256):
        super().__init__(database, relaxed_durability=False, max_batch=max_batch)

    def insert(self, row: dict[str, Any]) -> None:
        """Commit the row (every column given). Raises GroupWriteFailed (an SQLAlchemyError)."""
        self.submit(JobInsert(row=row))

    def describe(self, write: JobInsert) -> str:
        return f"job {write.row['id']}"

    def write_batch(self, connection: Connection, batch: list[JobInsert]) -> None:
        """PostgreSQL: one multi-row INSERT (job_statements.insert_jobs_batch)."""
        connection.exec_driver_sql(*job_statements.insert_jobs_batch([write.row for write in batch]))

    def write_alone(self, connection: Connection, write: JobInsert) -> None:
        connection.execute(job_statements.insert_job(), [write.row])

    def retry_alone_after(self, exc: BaseException) -> bool:
        # One bad row (e.g. a business deleted a moment ago) must not fail the other requests' jobs.
        return isinstance(exc, (IntegrityError, DataError))
