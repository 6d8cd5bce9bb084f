"""Group acknowledgement: a worker process's greenlets ack their Redis messages together.

Dramatiq's Redis consumer acks each processed message with its own call of the dispatch script (a round
trip, and a large share of a no-op job's CPU in a worker: bench/README.md, "Group acks"). Here every
greenlet's `broker.do_ack` hands its ack to one handler per process and waits for it; the handler acks
whatever accumulated meanwhile with one script call per queue (redis_protocol.ACK_MANY: the same keys and
effect as Dramatiq's "ack" and its heartbeat). A greenlet returns only once its ack is done, so a process
that dies earlier leaves the message to be redelivered, as before.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis

from db.batching import Batcher, Item
from prosaas.log_handler import flush_gathered_lines


@dataclass(eq=False)
class Ack(Item):
    queue_name: str = ""
    redis_message_id: str = ""


class AckBatcher(Batcher[Ack]):
    """Acks of one broker's consumers in this process, one script call per queue and batch."""

    thread_name = "group-ack"

    def __init__(self, broker, protocol, *, max_batch: int = 512):
        super().__init__(max_batch=max_batch)
        self.broker = broker
        self.protocol = protocol

    def ack(self, queue_name: str, redis_message_id: str) -> None:
        """Ack one message; raises redis.ConnectionError if the batch holding it could not be sent."""
        item = self.submit_and_wait(Ack(queue_name=queue_name, redis_message_id=redis_message_id))
        if item.error is not None:
            kind = redis.ConnectionError if isinstance(item.error, redis.ConnectionError) else redis.RedisError
            raise kind(f"ack of {redis_message_id} failed: {item.error}") from item.error

    def handle_batch(self, batch: list[Ack]) -> None:
        flush_gathered_lines()  # the acked jobs' log lines are written before their acks leave
        by_queue: dict[str, list[str]] = {}
        for item in batch:
            by_queue.setdefault(item.queue_name, []).append(item.redis_message_id)
        # One call per queue (usually one): a pipeline would ask SCRIPT EXISTS first on every execute.
        for queue_name, message_ids in by_queue.items():
            self.protocol.ack_many(self.broker.broker_id, queue_name, message_ids)
