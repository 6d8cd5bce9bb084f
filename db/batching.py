"""Batching across the threads/greenlets of one process: callers hand work to one handler and wait for it.

The handler takes whatever accumulated while it handled the previous batch (an idle handler takes a lone
item at once: no fixed sleep, so one item costs a single hop) and handles it in one go: one transaction
(db/group_commit.py), one Redis script call (prosaas/group_ack.py). Each caller blocks until its own item
is done, so it keeps the semantics of doing the work itself; a failed batch fails every item in it with
the cause, never drops one. The handler starts lazily in each process (after a fork too) and is started
again if it ever died.
"""
from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Generic, Optional, TypeVar


@dataclass(eq=False)
class Item:
    """One caller's piece of work and the answer it waits for (subclasses add their fields)."""

    done: threading.Event = field(default_factory=threading.Event, init=False)
    error: Optional[BaseException] = field(default=None, init=False)
    answer: Any = field(default=None, init=False)


I = TypeVar("I", bound=Item)


class Batcher(Generic[I]):
    """Base of a per-process batcher: subclasses implement `handle_batch`."""

    WAIT_CHECK_SECONDS = 5.0  # how often a waiting caller checks that the handler is still alive
    thread_name = "batcher"

    def __init__(self, *, max_batch: int = 256):
        self.max_batch = max_batch
        self.batches_written = 0  # counters, for tests and profiling
        self.writes_written = 0
        self._reset_process_state()
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (this() is not None and this()._reset_process_state()))

    def handle_batch(self, batch: list[I]) -> None:
        """Do every item's work; raise to fail them all, or set `error` on the items that failed alone."""
        raise NotImplementedError

    def submit_and_wait(self, item: I) -> I:
        """Hand the item to this process's handler; return it once done (its `error` set if it failed)."""
        if self._pid != os.getpid():
            self._reset_process_state()
        with self._lock:
            self._pending.append(item)
            self._ensure_handler()
            self._wake.notify()
        while not item.done.wait(self.WAIT_CHECK_SECONDS):
            with self._lock:
                self._ensure_handler()
        return item

    def close(self, timeout: float = 10.0) -> None:
        """Stop this process's handler once the items already handed to it are done (broker.close()).
        A later item starts a handler again."""
        with self._lock:
            handler, self._closing = self._handler, True
            self._wake.notify_all()
        if handler is not None and handler is not threading.current_thread():
            handler.join(timeout)

    @property
    def pending(self) -> int:
        """Items waiting for the next batch (not counting the one being handled)."""
        with self._lock:
            return len(self._pending)

    def _reset_process_state(self) -> None:
        """Fresh lock, queue and handler for this process (a forked child must not use its parent's)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[I] = []
        self._handler: Optional[threading.Thread] = None
        self._closing = False
        self._pid = os.getpid()

    def _ensure_handler(self) -> None:
        """Start the handler if this process has none alive (caller holds the lock)."""
        self._closing = False
        if self._handler is None or not self._handler.is_alive():
            self._handler = threading.Thread(target=self._handle_forever, name=self.thread_name, daemon=True)
            self._handler.start()

    def _handle_forever(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                return  # closed, nothing left
            self._handle(batch)

    def _next_batch(self) -> list[I]:
        """Wait for pending items and take up to max_batch of them (none once closed and drained)."""
        with self._lock:
            while not self._pending:
                if self._closing:
                    self._handler = None
                    return []
                self._wake.wait()
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            return batch

    def _handle(self, batch: list[I]) -> None:
        try:
            self.handle_batch(batch)
            self.batches_written += 1
            self.writes_written += len(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller, who decides
            for item in batch:
                if item.error is None:
                    item.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for item in batch:
                item.done.set()
