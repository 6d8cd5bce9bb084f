"""Paused queues: which queues workers must stop taking messages from, kept in Redis so every role sees it.

A pause is a field of one Redis hash (`<namespace>:px:paused_queues`, queue -> JSON {"since", "by"}), so it
survives restarts of every role and is the same on every host. Nothing is moved: a paused queue's messages
stay where they are and the API keeps accepting new ones, which wait. Workers look at the hash at most
every `refresh_seconds` (one HGETALL per process, shared by all its consumers) and fetch nothing from a
paused queue; the messages a consumer had fetched but not yet handed to its workers go back to the queue.
Messages already handed to worker threads (at most the worker's prefetch) still run.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis
from dramatiq import Consumer
from dramatiq.message import Message

log = logging.getLogger("prosaas.queues")

REFRESH_SECONDS = 0.5  # how stale a worker's view of the paused queues may be ("within a second")
PAUSED_POLL_SECONDS = 0.2  # how long a consumer of a paused queue sleeps between two looks


def paused_key(keys) -> str:
    return keys("paused_queues")


def pause_queue(client, keys, queue: str, *, by: str = "operator") -> dict[str, Any]:
    client.hset(paused_key(keys), queue, json.dumps({"since": time.time(), "by": by}))
    log.warning("QUEUE_PAUSED queue=%s by=%s", queue, by)
    return {"queue": queue, "paused": True}


def resume_queue(client, keys, queue: str, *, by: str = "operator") -> dict[str, Any]:
    if client.hdel(paused_key(keys), queue):
        log.warning("QUEUE_RESUMED queue=%s by=%s", queue, by)
    return {"queue": queue, "paused": False}


def paused_queues(client, keys) -> dict[str, dict[str, Any]]:
    """Every paused queue with when (epoch seconds) and by whom it was paused."""
    found = {}
    for name, raw in client.hgetall(paused_key(keys)).items():
        try:
            found[name.decode()] = json.loads(raw)
        except ValueError:
            found[name.decode()] = {}
    return found


class QueuePauses:
    """A process's cached view of the paused queues, refreshed at most every `refresh_seconds`.

    While Redis cannot be read, the last view is kept (the consumer's own fetch will fail loudly anyway).

    Parameters:
      client: Redis client; keys: our key namer; refresh_seconds: the view's longest age (default 0.5 s).
    """

    def __init__(self, client, keys, *, refresh_seconds: float = REFRESH_SECONDS, clock=time.monotonic):
        self.client = client
        self.keys = keys
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._paused: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def is_paused(self, queue: str) -> bool:
        if self.clock() - self._read_at >= self.refresh_seconds:
            with self._lock:
                if self.clock() - self._read_at >= self.refresh_seconds:
                    try:
                        self._paused = frozenset(name.decode() for name in self.client.hkeys(paused_key(self.keys)))
                    except redis.RedisError:
                        pass
                    self._read_at = self.clock()
        return queue in self._paused


class PausableConsumer(Consumer):
    """Wraps a broker consumer: while its queue is paused it fetches nothing and yields None (idle).

    Delay queues are never paused: a delayed message that falls due moves into its queue
    and waits there with the others.
    """

    def __init__(self, consumer, pauses: QueuePauses, queue_name: str):
        self.consumer = consumer
        self.pauses = pauses
        self.queue_name = queue_name

    def __next__(self):
        if self.pauses.is_paused(self.queue_name):
            self._return_fetched()
            time.sleep(PAUSED_POLL_SECONDS)
            return None
        return next(self.consumer)

    def _return_fetched(self) -> None:
        """Messages fetched from Redis but not yet handed out go back to the queue (Dramatiq's requeue)."""
        cache = getattr(self.consumer, "message_cache", None)
        if not cache:
            return
        fetched = [Message.decode(data) for data in cache if data is not None]
        cache.clear()
        self.consumer.requeue(fetched)

    def ack(self, message):
        return self.consumer.ack(message)

    def nack(self, message):
        return self.consumer.nack(message)

    def requeue(self, messages):
        return self.consumer.requeue(messages)

    def close(self):
        return self.consumer.close()

    def __getattr__(self, name):
        if name == "consumer":
            raise AttributeError(name)
        return getattr(self.consumer, name)
