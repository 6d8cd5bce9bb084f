"""One hop for an accepted job: the row's group commit and the message's group send done by one handler.

Before, an accepted job went through two hand-offs: its row to the group-commit writer (db/job_inserts.py),
then, once committed, its message to the group sender (prosaas/group_send.py), each a thread switch and a
wait. Here the caller hands both at once: the handler commits the rows that piled up in one INSERT and one
durable commit, then sends the messages of the rows that were written in one pipelined round trip, then
releases every caller. A row is still committed before its message exists, and a caller returns only once
both are done.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional

from db.job_inserts import JobInsert, JobInsertWriter


@dataclass(eq=False)
class Accept(JobInsert):
    message: Any = None
    send_error: Optional[BaseException] = None


class AcceptWriter(JobInsertWriter):
    """Commits new job rows in groups, then sends their messages in one round trip (PostgreSQL only).

    >>> accepted = AcceptWriter(database, broker)
    >>> accepted.accept(new_job_row(...), message)  # row committed and message in Redis when it returns
    """

    thread_name = "accept"

    def __init__(self, database, broker, *, max_batch: int = 256):
        super().__init__(database, max_batch=max_batch)
        self.broker = broker

    def accept(self, row: dict[str, Any], message) -> None:
        """Raises GroupWriteFailed if the row was not written, or the broker's error if it was written but
        its message could not be sent (the caller then marks the row failed)."""
        item = self.submit(Accept(row=row, message=message))
        if item.send_error is not None:
            # Each caller raises its own copy (one object raised by many callers would collect their tracebacks).
            raise copy.copy(item.send_error).with_traceback(None) from item.send_error

    def handle_batch(self, batch: list[Accept]) -> None:
        super().handle_batch(batch)  # rows first: never a message without its row
        written = [item for item in batch if item.error is None]
        try:
            errors = self.broker.enqueue_group([item.message for item in written])
        except Exception as exc:  # noqa: BLE001 - every caller gets the cause
            errors = [exc] * len(written)
        for item, error in zip(written, errors):
            item.send_error = error
