"""Group acknowledgement: a worker process's greenlets ack their Redis messages together.

Dramatiq's Redis consumer acks each processed message with its own call of the dispatch script (a round
trip, and about 40 % of a no-op job's CPU in a worker). Here every greenlet hands its ack to one handler
per process and waits for it; the handler acks whatever accumulated meanwhile with one script call per
queue. Same keys and the same effect as Dramatiq's "ack" command (and its heartbeat):
the message leaves the worker's ack set and the queue's message hash. A greenlet returns only once its
ack is done, so a process that dies earlier leaves the message to be redelivered, as before.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis
from dramatiq.brokers.redis import _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed

from db.batching import Batcher, Item

ACK_MANY = """
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
for i = 3, #ARGV do
  if redis.call('srem', KEYS[2], ARGV[i]) > 0 then
    redis.call('hdel', KEYS[3], ARGV[i])
  end
end
return #ARGV - 2
"""


@dataclass(eq=False)
class Ack(Item):
    queue_name: str = ""
    redis_message_id: str = ""


class AckBatcher(Batcher[Ack]):
    """Acks of one broker's consumers in this process, one script call per queue and batch."""

    thread_name = "group-ack"

    def __init__(self, broker, *, max_batch: int = 512):
        super().__init__(max_batch=max_batch)
        self.broker = broker
        self._script = broker.client.register_script(ACK_MANY)

    def ack(self, queue_name: str, redis_message_id: str) -> None:
        """Ack one message; raises redis.ConnectionError if the batch holding it could not be sent."""
        item = self.submit_and_wait(Ack(queue_name=queue_name, redis_message_id=redis_message_id))
        if item.error is not None:
            kind = redis.ConnectionError if isinstance(item.error, redis.ConnectionError) else redis.RedisError
            raise kind(f"ack of {redis_message_id} failed: {item.error}") from item.error

    def handle_batch(self, batch: list[Ack]) -> None:
        by_queue: dict[str, list[str]] = {}
        for item in batch:
            by_queue.setdefault(item.queue_name, []).append(item.redis_message_id)
        broker, now = self.broker, current_millis()
        # One call per queue (usually one): a pipeline would ask SCRIPT EXISTS first on every execute.
        for queue_name, message_ids in by_queue.items():
            self._script(keys=[f"{broker.namespace}:__heartbeats__",
                               f"{broker.namespace}:__acks__.{broker.broker_id}.{queue_name}",
                               f"{broker.namespace}:{queue_name}.msgs"],
                         args=[now, broker.broker_id, *message_ids])


class GroupAckConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer whose acks go through the broker's AckBatcher."""

    def ack(self, message):
        try:
            self.broker.acks.ack(self.queue_name, message.options["redis_message_id"])
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None
        finally:
            self.queued_message_ids.discard(message.message_id)
