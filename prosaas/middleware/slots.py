"""Per-business concurrency: leased slots keyed by (actor, business_id), deferral without spending a retry."""
from __future__ import annotations

import logging
import random
import threading
import time

import redis
from dramatiq.middleware import Middleware, MiddlewareError, SkipMessage

log = logging.getLogger("prosaas.slots")

# A slot is a member of a sorted set scored by its lease expiry: a dead worker's slot expires
# by itself, unlike one shared counter whose TTL every acquire refreshes.
ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
local active = redis.call('zcard', KEYS[1])
if redis.call('zscore', KEYS[1], ARGV[4]) then return active end
if active >= tonumber(ARGV[3]) then return -active end
redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
redis.call('pexpire', KEYS[1], tonumber(ARGV[2]) * 2)
return active + 1
"""

RELEASE = """
redis.call('zrem', KEYS[1], ARGV[2])
redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]))
return redis.call('zcard', KEYS[1])
"""


class SlotUnavailable(MiddlewareError):
    """Redis could not be asked for a slot: this delivery fails and is retried.

    A MiddlewareError, because Dramatiq logs and ignores other exceptions from `before_` hooks
    and would run the job without a slot.
    """


class BusinessSlots(Middleware):
    """At most ``per_business`` messages of an actor run at once for one business.

    Parameters:
      client: Redis client; keys: our key namer; lease_seconds: how long a slot outlives a dead worker;
      defer_ms: (low, high) delay range for a message that found no free slot.

    >>> @dramatiq.actor(queue_name="recordings", per_business=3)
    ... def download_recording(business_id, call_sid): ...
    """

    def __init__(self, client, keys, *, lease_seconds: int = 60, defer_ms=(500, 1500)):
        self.client = client
        self.keys = keys
        self.lease_ms = lease_seconds * 1000
        self.defer_ms = defer_ms
        self.held: dict[str, tuple[str, int, str]] = {}  # message_id -> (key, limit, business)
        self._lock = threading.Lock()
        self._acquire = client.register_script(ACQUIRE)
        self._release = client.register_script(RELEASE)

    @property
    def actor_options(self):
        return {"per_business"}

    def slot_key(self, actor_name: str, business_id) -> str:
        return self.keys("slots", actor_name, business_id)

    def before_process_message(self, broker, message):
        actor = broker.get_actor(message.actor_name)
        limit = actor.options.get("per_business")
        if not limit:
            return
        limit = limit() if callable(limit) else int(limit)
        business_id = message.options.get("business_id", message.kwargs.get("business_id"))
        key = self.slot_key(message.actor_name, business_id)
        try:
            active = self._acquire(keys=[key], args=[int(time.time() * 1000), self.lease_ms, limit,
                                                     message.message_id])
        except redis.RedisError as exc:
            log.warning("SLOT_UNAVAILABLE actor=%s business_id=%s error=%s", message.actor_name, business_id,
                        type(exc).__name__)
            raise SlotUnavailable(f"could not take a {message.actor_name} slot: Redis unreachable") from exc
        if active > 0:
            with self._lock:
                self.held[message.message_id] = (key, limit, business_id)
            log.info("SLOT_ACQUIRED actor=%s business_id=%s job_id=%s active=%d/%d", message.actor_name,
                     business_id, message.options.get("job_id", "-"), active, limit)
            return
        delay = random.randint(*self.defer_ms)
        log.info("JOB_DEFERRED actor=%s business_id=%s job_id=%s reason=no_free_slot active=%d/%d delay_ms=%d",
                 message.actor_name, business_id, message.options.get("job_id", "-"), -active, limit, delay)
        broker.enqueue(message.copy(options={"deferrals": message.options.get("deferrals", 0) + 1}), delay=delay)
        raise SkipMessage("no free slot")

    def _release_slot(self, message):
        with self._lock:
            held = self.held.pop(message.message_id, None)
        if held is None:
            return
        key, limit, business_id = held
        active = self._release(keys=[key], args=[int(time.time() * 1000), message.message_id])
        log.info("SLOT_RELEASED actor=%s business_id=%s job_id=%s active_after=%d/%d", message.actor_name,
                 business_id, message.options.get("job_id", "-"), active, limit)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._release_slot(message)

    after_skip_message = after_process_message

    def renew_leases(self) -> None:
        """Extend every slot this process holds (called from the worker heartbeat)."""
        with self._lock:
            held = list(self.held.items())
        if not held:
            return
        expiry = int(time.time() * 1000) + self.lease_ms
        pipe = self.client.pipeline(transaction=False)
        for message_id, (key, _limit, _b) in held:
            pipe.zadd(key, {message_id: expiry}, xx=True)
            pipe.pexpire(key, self.lease_ms * 2)
        pipe.execute()

    def slots_in_use(self) -> dict[str, int]:
        """Slots in use per actor, across all workers (for metrics and health)."""
        now = int(time.time() * 1000)
        counts: dict[str, int] = {}
        for key in self.client.scan_iter(match=self.keys("slots", "*"), count=500):
            name = key.decode() if isinstance(key, bytes) else key
            actor = name.split(":")[-2]
            counts[actor] = counts.get(actor, 0) + self.client.zcount(name, now, "+inf")
        return counts
