"""One Redis client per process for our own keys, named under the configured namespace."""
from __future__ import annotations

import os
import threading

import redis

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_client(url: str) -> redis.Redis:
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5,
                                              health_check_interval=30, retry_on_timeout=True)
                _clients[key] = client
    return client


class Keys:
    """Names of our Redis keys; Dramatiq's own keys share the same namespace prefix."""

    def __init__(self, namespace: str):
        self.namespace = namespace

    def __call__(self, *parts: object) -> str:
        return ":".join([self.namespace, "px", *map(str, parts)])

    def queue(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}"

    def queue_messages(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.msgs"

    def dead_letters(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.XQ"

    def dead_letter_messages(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.XQ.msgs"

    @property
    def dramatiq_heartbeats(self) -> str:
        return f"{self.namespace}:__heartbeats__"

    def dramatiq_acks(self, broker_id: str, queue_name: str) -> str:
        return f"{self.namespace}:__acks__.{broker_id}.{queue_name}"
