"""Group commit: many threads/greenlets of one process hand their writes to one writer, one transaction per batch.

The writer takes whatever accumulated while its previous transaction was in flight and writes it in ONE
transaction of a few statements (an idle writer writes at once: no fixed sleep, so one lone write costs a
single hop). Each caller blocks until its own write is committed, so callers keep the semantics of writing
it themselves; a failed batch fails every write in it with the cause (`GroupWriteFailed`, an
SQLAlchemyError), never drops one. On SQLite each write goes alone in the caller's own transaction.
"""
from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Generic, Optional, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError


class GroupWriteFailed(SQLAlchemyError):
    """The batch holding this write failed and nothing of it was written; the cause is `__cause__`."""


@dataclass(eq=False)
class Write:
    """One caller's change and the answer it waits for (subclasses add their fields)."""

    done: threading.Event = field(default_factory=threading.Event, init=False)
    error: Optional[BaseException] = field(default=None, init=False)
    answer: Any = field(default=None, init=False)


W = TypeVar("W", bound=Write)


class GroupCommitWriter(Generic[W]):
    """Base of a per-process group-commit writer: subclasses say how to write a batch and a lone write.

    relaxed_durability: commit without waiting for the WAL flush (PostgreSQL); False for writes a client
    was promised (an accepted job's row).
    """

    WAIT_CHECK_SECONDS = 5.0  # how often a waiting caller checks that the writer is still alive
    thread_name = "group-commit"

    def __init__(self, database, *, relaxed_durability: bool, max_batch: int = 256):
        self.database = database
        self.relaxed_durability = relaxed_durability
        self.max_batch = max_batch
        self.batches_written = 0  # counters, for tests and profiling
        self.writes_written = 0
        self._reset_process_state()
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (this() is not None and this()._reset_process_state()))

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

    # Callers' side --------------------------------------------------------------------------------
    def submit(self, write: W) -> W:
        """Hand a change to this process's writer and wait until it is committed (or failed)."""
        if self.database.is_sqlite:
            with self.database.transaction(relaxed_durability=self.relaxed_durability) as connection:
                self.write_alone(connection, write)
            return write
        if self._pid != os.getpid():
            self._reset_process_state()
        with self._lock:
            self._pending.append(write)
            self._ensure_writer()
            self._wake.notify()
        while not write.done.wait(self.WAIT_CHECK_SECONDS):
            with self._lock:
                self._ensure_writer()
        if write.error is not None:
            # The cause's first line only: a database error's full text holds the whole batch's SQL and
            # parameters, i.e. other callers' rows. The cause itself stays attached for logs and handlers.
            first_line = (str(write.error).strip().splitlines() or [""])[0][:300]
            raise GroupWriteFailed(f"{self.describe(write)} was not written: "
                                   f"{type(write.error).__name__}: {first_line}") from write.error
        return write

    def describe(self, write: W) -> str:
        return "a write"

    @property
    def pending(self) -> int:
        """Writes waiting for the next batch (not counting the one being written)."""
        with self._lock:
            return len(self._pending)

    # Writer's side --------------------------------------------------------------------------------
    def _reset_process_state(self) -> None:
        """Fresh lock, queue and writer for this process (a forked child must not use its parent's)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[W] = []
        self._writer: Optional[threading.Thread] = None
        self._pid = os.getpid()

    def _ensure_writer(self) -> None:
        """Start the writer if this process has none alive (caller holds the lock)."""
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._write_forever, name=self.thread_name, daemon=True)
            self._writer.start()

    def _write_forever(self) -> None:
        while True:
            self._write(self._next_batch())

    def _next_batch(self) -> list[W]:
        """Wait for pending writes and take up to max_batch of them."""
        with self._lock:
            while not self._pending:
                self._wake.wait()
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            return batch

    def _write(self, batch: list[W]) -> None:
        """One transaction for the whole batch; a failure fails every write in it, none is dropped."""
        try:
            try:
                with self.database.transaction(relaxed_durability=self.relaxed_durability) as connection:
                    self.write_batch(connection, batch)
            except Exception as exc:
                if len(batch) == 1 or not self.retry_alone_after(exc):
                    raise
                self._write_one_by_one(batch)
            self.batches_written += 1
            self.writes_written += len(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller, who decides
            for write in batch:
                if write.error is None:
                    write.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for write in batch:
                write.done.set()

    def _write_one_by_one(self, batch: list[W]) -> None:
        for write in batch:
            try:
                with self.database.transaction(relaxed_durability=self.relaxed_durability) as connection:
                    self.write_alone(connection, write)
            except Exception as exc:  # this write alone fails; the others are written
                write.error = exc
