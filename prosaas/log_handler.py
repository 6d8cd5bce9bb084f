"""The roles' log handler: a StreamHandler that also takes log_event's events as parts, and in a gevent
worker gathers their lines into one write per turn of the event loop.

A worker writes two event lines per job (JOB_PICKED, JOB_DONE); one `write` system call each was a tenth of
a no-op job's CPU. Gathered lines are written when the loop next runs its callbacks (the same turn, before
any wait), before any other record (so the order holds), before each group ack (prosaas/group_ack.py: a
job's lines are out before its ack is), and at the worker's shutdown. What a SIGKILL can take is the lines
of the turn in progress, i.e. of jobs not yet acked, whose messages are delivered (and logged) again.
"""
from __future__ import annotations

import logging
import time
from typing import Optional


class EventStreamHandler(logging.StreamHandler):
    """StreamHandler + `write_event` (a line from parts, no LogRecord) + optional per-loop-turn writes."""

    def __init__(self, stream=None):
        super().__init__(stream)
        self._pending: list[str] = []
        self._loop = None  # the gevent loop that writes gathered lines, when gathering
        self._loop_thread: Optional[int] = None  # its native thread: only lines logged there are gathered

    def write_event(self, level: int, logger_name: str, event: str, fields: dict) -> bool:
        """Format and write (or gather) one event line; False if this handler's formatter cannot (a custom one)."""
        format_event = getattr(self.formatter, "format_event", None)
        line = format_event(time.time(), level, logger_name, event, fields) if format_event else None
        if line is None:
            return False
        with self.lock:
            if self._loop is not None and _native_thread_id() == self._loop_thread:
                if not self._pending:
                    self._loop.run_callback(self.flush)
                self._pending.append(line + self.terminator)
                return True
            self._write(line + self.terminator, event, level, logger_name)
        return True

    def gather_per_loop_turn(self) -> None:
        """From now on, event lines logged on this thread's gevent loop are written once per loop turn."""
        import gevent

        with self.lock:
            self._loop, self._loop_thread = gevent.get_hub().loop, _native_thread_id()

    def stop_gathering(self) -> None:
        with self.lock:
            self._loop = None
        self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        if self._pending:
            self.flush()  # gathered lines first: the log keeps its order
        super().emit(record)

    def flush(self) -> None:
        with self.lock:
            if self._pending:
                text, self._pending = "".join(self._pending), []
                self._write(text, "EVENT_LINES", logging.INFO, "prosaas")
            else:
                super().flush()

    def _write(self, text: str, event: str, level: int, logger_name: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except RecursionError:
            raise
        except Exception:  # as logging does: a failed write never fails the caller
            self.handleError(logging.makeLogRecord({"msg": event, "levelno": level, "name": logger_name}))


try:  # the OS thread's id even under gevent's monkey patching (where threading.get_ident names a greenlet)
    from gevent.monkey import get_original

    _native_thread_id = get_original("_thread", "get_ident")
except ImportError:  # pragma: no cover - gevent is a dependency
    import threading

    _native_thread_id = threading.get_ident


def flush_gathered_lines() -> None:
    """Write the event lines gathered so far (a group ack calls this before it acks)."""
    for handler in logging.getLogger().handlers:
        if type(handler) is EventStreamHandler and handler._pending:
            handler.flush()


def gather_lines_per_loop_turn(enabled: bool = True) -> None:
    """Turn gathering on (a gevent worker process, once its logging is configured) or off (its shutdown)."""
    for handler in logging.getLogger().handlers:
        if type(handler) is EventStreamHandler:
            handler.gather_per_loop_turn() if enabled else handler.stop_gathering()
