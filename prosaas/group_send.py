"""Group send: the messages a process enqueues at the same moment reach Redis in one round trip.

Dramatiq's Redis broker sends each message with its own call of its dispatch script. In the web role that call
was a large share of an accepted job's CPU (bench/README.md, "Group send"), and the requests of one group
commit (db/job_inserts.py) are released together, so their messages arrive together. Here every caller hands
its message to one handler per process and waits; the handler sends whatever accumulated meanwhile as ONE
pipeline of the very same dispatch script calls (redis_protocol.enqueue_pipelined), so each message lands in
Redis exactly as Dramatiq's enqueue would put it there. A caller returns only once its own message is in
Redis, and a failed pipeline fails every caller in it with the cause.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from db.batching import Batcher, Item
from prosaas.redis_protocol import enqueue_pipelined


@dataclass(eq=False)
class Send(Item):
    queue_name: str = ""
    redis_message_id: str = ""
    data: bytes = b""


class SendBatcher(Batcher[Send]):
    """Enqueues of one Redis broker in this process, one pipelined round trip per batch."""

    thread_name = "group-send"

    def __init__(self, broker, *, max_batch: int = 256):
        super().__init__(max_batch=max_batch)
        self.broker = broker

    def send(self, queue_name: str, redis_message_id: str, data: bytes) -> None:
        """Put one encoded message on its queue (Dramatiq's `enqueue` command); raises the batch's error."""
        item = self.submit_and_wait(Send(queue_name=queue_name, redis_message_id=redis_message_id, data=data))
        if item.error is not None:
            # Each caller raises its own copy: one exception object re-raised by every caller of a failed
            # batch would collect all their tracebacks.
            raise copy.copy(item.error).with_traceback(None) from item.error

    def handle_batch(self, batch: list[Send]) -> None:
        errors = enqueue_pipelined(self.broker, [(item.queue_name, item.redis_message_id, item.data)
                                                 for item in batch])
        for item, error in zip(batch, errors):
            item.error = error
