"""Group commit: many threads/greenlets of one process hand their writes to one writer, one transaction per batch.

Built on db.batching.Batcher: the writer puts whatever accumulated while its previous transaction was
in flight into ONE transaction of a few statements, each caller blocks until its own write is committed,
and a failed batch fails every write in it with the cause (`GroupWriteFailed`, an SQLAlchemyError), never
drops one. On SQLite each write goes alone in the caller's own transaction.
"""
from __future__ import annotations

from typing import TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from db.batching import Batcher, Item

Write = Item  # a caller's change; subclasses add their fields


class GroupWriteFailed(SQLAlchemyError):
    """The batch holding this write failed and nothing of it was written; the cause is `__cause__`."""


def database_unreachable(exc: BaseException) -> bool:
    """Whether a failed write (a GroupWriteFailed's cause, or the error itself) is a lost or refused connection,
    worth waiting out, rather than an error in the statement or its data."""
    cause = exc.__cause__ if isinstance(exc, GroupWriteFailed) and exc.__cause__ is not None else exc
    if isinstance(cause, (OperationalError, InterfaceError, DisconnectionError)):
        return True
    try:
        import psycopg2  # the job-write trip's own connection raises the driver's errors unwrapped
    except ImportError:  # SQLite-only install
        return False
    return isinstance(cause, (psycopg2.OperationalError, psycopg2.InterfaceError))


W = TypeVar("W", bound=Write)


class GroupCommitWriter(Batcher[W]):
    """Base of a per-process group-commit writer: subclasses say how to write a batch and a lone write.

    relaxed_durability: commit without waiting for the WAL flush (PostgreSQL); False for writes a client
    was promised (an accepted job's row).
    """

    thread_name = "group-commit"
    # True when write_batch issues exactly one statement: in autocommit it is its own atomic, durable
    # transaction, so a batch costs one round trip instead of three (BEGIN, the statement, COMMIT).
    batch_is_one_statement = False

    def __init__(self, database, *, relaxed_durability: bool, max_batch: int = 256):
        super().__init__(max_batch=max_batch)
        self.database = database
        self.relaxed_durability = relaxed_durability

    # To implement ---------------------------------------------------------------------------------
    def write_batch(self, connection: Connection, batch: list[W]) -> None:
        """Write every change of the batch in the open transaction, setting `answer` where callers want one."""
        raise NotImplementedError

    def write_alone(self, connection: Connection, write: W) -> None:
        """Write one change in its own transaction (SQLite, and retries of a failed batch one by one)."""
        raise NotImplementedError

    def retry_alone_after(self, exc: BaseException) -> bool:
        """Should a batch that failed with `exc` be retried one write at a time (e.g. one bad row)?"""
        return False

    def describe(self, write: W) -> str:
        return "a write"

    # Callers' side --------------------------------------------------------------------------------
    def submit(self, write: W) -> W:
        """Hand a change to this process's writer and wait until it is committed (or failed)."""
        if self.database.is_sqlite:
            with self.database.transaction(relaxed_durability=self.relaxed_durability) as connection:
                self.write_alone(connection, write)
            return write
        self.submit_and_wait(write)
        if write.error is not None:
            # The cause's first line only: a database error's full text holds the whole batch's SQL and
            # parameters, i.e. other callers' rows. The cause itself stays attached for logs and handlers.
            first_line = (str(write.error).strip().splitlines() or [""])[0][:300]
            raise GroupWriteFailed(f"{self.describe(write)} was not written: "
                                   f"{type(write.error).__name__}: {first_line}") from write.error
        return write

    # Writer's side --------------------------------------------------------------------------------
    def handle_batch(self, batch: list[W]) -> None:
        """One transaction for the whole batch; a failure fails every write in it, none is dropped."""
        try:
            with self._batch_connection() as connection:
                self.write_batch(connection, batch)
        except Exception as exc:
            if len(batch) == 1 or not self.retry_alone_after(exc):
                raise
            self._write_one_by_one(batch)

    def _batch_connection(self):
        if self.batch_is_one_statement and not self.relaxed_durability:
            return self.database.single_statements()
        return self.database.transaction(relaxed_durability=self.relaxed_durability)

    def _write_one_by_one(self, batch: list[W]) -> None:
        for write in batch:
            try:
                with self.database.transaction(relaxed_durability=self.relaxed_durability) as connection:
                    self.write_alone(connection, write)
            except Exception as exc:  # this write alone fails; the others are written
                write.error = exc
