"""One Redis client per process (key names: prosaas/redis_protocol.py).

With Sentinel addresses the client is redis-py's `Sentinel(...).master_for(...)`: each new connection
asks the sentinels for the current master, and a connection error or a READONLY answer (the old master
demoted) drops the connection, so every role follows a failover without a restart. The URL still
gives the database number and the password.
"""
from __future__ import annotations

import os
import threading
from typing import Optional

import redis
from redis.connection import parse_url
from redis.sentinel import Sentinel

_lock = threading.Lock()
_clients: dict[tuple, redis.Redis] = {}
_sentinels: dict[tuple, Sentinel] = {}
CLIENT_OPTIONS = dict(socket_timeout=10, socket_connect_timeout=5, health_check_interval=30, retry_on_timeout=True)
SENTINEL_OPTIONS = dict(socket_timeout=1, socket_connect_timeout=1)  # a dead sentinel must not stall a request

Addresses = tuple[tuple[str, int], ...]


def redis_client(url: str, sentinels: Addresses = (), master: Optional[str] = None,
                 sentinel_password: str = "") -> redis.Redis:
    key = (os.getpid(), url, sentinels, master, sentinel_password)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = (_master_client(url, sentinels, master, sentinel_password) if sentinels
                          else redis.Redis.from_url(url, **CLIENT_OPTIONS))
                _clients[key] = client
    return client


def sentinel_manager(sentinels: Addresses, sentinel_password: str = "") -> Sentinel:
    key = (os.getpid(), sentinels, sentinel_password)
    manager = _sentinels.get(key)
    if manager is None:
        manager = _sentinels[key] = Sentinel(
            list(sentinels), sentinel_kwargs={**SENTINEL_OPTIONS, "password": sentinel_password or None})
    return manager


def _master_client(url: str, sentinels: Addresses, master: str, sentinel_password: str) -> redis.Redis:
    parsed = parse_url(url)  # only the database, user and password matter: Sentinel names the host
    auth = {name: parsed[name] for name in ("db", "username", "password") if parsed.get(name) is not None}
    return sentinel_manager(sentinels, sentinel_password).master_for(master, **CLIENT_OPTIONS, **auth)


def sentinel_view(sentinels: Addresses, master: str, sentinel_password: str = "") -> dict:
    """Which master the sentinels name and how many of them agree: {"master", "agreeing", "sentinels"}."""
    answers = []
    for address in sentinels:
        probe = redis.Redis(*address, password=sentinel_password or None, **SENTINEL_OPTIONS)
        try:
            found = probe.sentinel_get_master_addr_by_name(master)
            host = found[0].decode() if found and isinstance(found[0], bytes) else found and found[0]
            answers.append(f"{host}:{int(found[1])}" if found else None)
        except redis.RedisError:
            answers.append(None)
        finally:
            probe.close()
    named = [a for a in answers if a]
    current = max(set(named), key=named.count) if named else None
    return {"master": current, "agreeing": named.count(current) if current else 0, "sentinels": len(sentinels)}

