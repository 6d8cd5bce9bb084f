"""New job rows by group commit: the web's concurrent requests share one durable INSERT and one commit.

Every accepted job needs its `background_jobs` row committed (durably: the 202 promises it) before its
message is sent. One commit per request made PostgreSQL's WAL flush and SQLAlchemy's unit of work the API's
ceiling (figures in bench/README.md); here the rows that arrive while the previous INSERT is in flight go in
together, one multi-row INSERT and one commit for all of them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError

from db.group_commit import GroupCommitWriter, Write
from db.models.core import BackgroundJob


@dataclass(eq=False)
class JobInsert(Write):
    row: dict[str, Any] = None  # column -> value, every column of background_jobs


class JobInsertWriter(GroupCommitWriter[JobInsert]):
    """Inserts new (non-batch) job rows for this process, durably, in groups.

    >>> rows = JobInsertWriter(database)
    >>> rows.insert(new_job_row(job_id=..., business_id=7, ...))   # committed when it returns
    """

    thread_name = "job-insert-writer"

    def __init__(self, database, *, max_batch: int = 256):
        super().__init__(database, relaxed_durability=False, max_batch=max_batch)
        table = BackgroundJob.__table__
        self._statement = insert(table)
        self._columns = [column.name for column in table.columns]
        self._json_columns = {column.name for column in table.columns if isinstance(column.type, JSON)}
        self._batch_sql = f"INSERT INTO {table.name} ({', '.join(self._columns)}) VALUES "
        self._row_placeholders = "(" + ", ".join(["%s"] * len(self._columns)) + ")"

    def insert(self, row: dict[str, Any]) -> None:
        """Commit the row (every column given). Raises GroupWriteFailed (an SQLAlchemyError)."""
        self.submit(JobInsert(row=row))

    def describe(self, write: JobInsert) -> str:
        return f"job {write.row['id']}"

    def write_batch(self, connection: Connection, batch: list[JobInsert]) -> None:
        """PostgreSQL: one multi-row INSERT written out here (SQLAlchemy's is slower, see bench/README.md)."""
        json_columns, values = self._json_columns, []
        for write in batch:
            values.extend(json.dumps(write.row[name]) if name in json_columns and write.row[name] is not None
                          else write.row[name] for name in self._columns)
        connection.exec_driver_sql(self._batch_sql + ", ".join([self._row_placeholders] * len(batch)), tuple(values))

    def write_alone(self, connection: Connection, write: JobInsert) -> None:
        connection.execute(self._statement, [write.row])

    def retry_alone_after(self, exc: BaseException) -> bool:
        # One bad row (e.g. a business deleted a moment ago) must not fail the other requests' jobs.
        return isinstance(exc, (IntegrityError, DataError))
