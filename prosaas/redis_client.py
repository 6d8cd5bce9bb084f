"""One Redis client per process (key names: prosaas/redis_protocol.py)."""
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
