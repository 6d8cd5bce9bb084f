"""Per-business concurrency: leased slots keyed by (actor, business_id), a waiting list per business."""
from __future__ import annotations

import logging
import threading
import time

import redis
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware, MiddlewareError, SkipMessage

from prosaas.redis_protocol import SlotScripts, prepare_for_enqueue
from prosaas.settings import PRIORITY_QUEUE

log = logging.getLogger("prosaas.slots")


class SlotUnavailable(MiddlewareError):
    """Redis could not be asked for a slot: this delivery fails and is retried.

    A MiddlewareError, because Dramatiq logs and ignores other exceptions from `before_` hooks
    and would run the job without a slot.
    """


class BusinessSlots(Middleware):
    """At most ``per_business`` messages of an actor run at once for one business, oldest first.

    A slot is taken when the message is enqueued (ProsaasBroker.enqueue calls `admit`): with every slot
    taken the message waits in its business's own list, not in the shared queue, so another business's
    messages never queue behind one business's backlog. Each finished delivery moves the oldest waiting
    message into the queue with the freed slot. The slot's lease is renewed while the message runs; a
    dead worker's slot expires by itself, and the worker heartbeat sweeps waiting lists whose slots did.
    A delivery that arrives without a slot (its lease ran out while queued) takes a free one or waits.

    Parameters:
      client: Redis client; keys: our key namer; lease_seconds: how long a running slot outlives a dead
      worker; queued_lease_seconds: how long a slot given at enqueue waits for its message to start.

    >>> @dramatiq.actor(queue_name="recordings", per_business=3)
    ... def download_recording(business_id, call_sid): ...
    """

    def __init__(self, client, keys, *, lease_seconds: float = 60, queued_lease_seconds: float = 600):
        self.client = client
        self.keys = keys
        self.lease_ms = int(lease_seconds * 1000)
        self.queued_lease_ms = int(queued_lease_seconds * 1000)
        self.key_ttl_ms = 2 * max(self.lease_ms, self.queued_lease_ms)
        self.held: dict[str, tuple] = {}  # message_id -> (limit, business, slots key)
        self._lock = threading.Lock()
        self.scripts = SlotScripts(client, keys, queued_lease_ms=self.queued_lease_ms, key_ttl_ms=self.key_ttl_ms)

    @property
    def actor_options(self):
        return {"per_business"}

    # Limits -------------------------------------------------------------------------------
    @staticmethod
    def _front(message) -> bool:
        """A message of the priority queue waits ahead of its business's backlog."""
        return message.queue_name == PRIORITY_QUEUE

    @staticmethod
    def limit_for(broker, actor_name: str) -> int | None:
        """The actor's per-business limit, or None for actors without one (or unknown here)."""
        try:
            limit = broker.get_actor(actor_name).options.get("per_business")
        except ActorNotFound:
            return None
        if not limit:
            return None
        return int(limit() if callable(limit) else limit)

    @staticmethod
    def business_of(message) -> object:
        return message.options.get("business_id", message.kwargs.get("business_id"))

    # Enqueue side -------------------------------------------------------------------------
    def admit(self, message, limit: int) -> bool:
        """Put a prepared message (with its redis_message_id) into its queue with a slot, or make it wait.

        Raises redis.RedisError like any enqueue when Redis is down (the caller answers 503).
        """
        admitted = self.scripts.admit(message, self.business_of(message), limit, front=self._front(message))
        if not admitted:
            log.info("JOB_WAITING_FOR_SLOT actor=%s business_id=%s job_id=%s%s limit=%d", message.actor_name,
                     self.business_of(message), message.options.get("job_id", "-"), _subject(message), limit)
        return bool(admitted)

    # Worker side --------------------------------------------------------------------------
    def before_process_message(self, broker, message):
        limit = self.limit_for(broker, message.actor_name)
        if not limit:
            return
        business_id = self.business_of(message)
        try:
            active = self.scripts.acquire(message, business_id, limit, lease_ms=self.lease_ms)
            if active <= 0:
                # Not prepare_for_enqueue's delay: the copy keeps its queue (delay queue included).
                waiting = prepare_for_enqueue(message, deferrals=message.options.get("deferrals", 0) + 1)
                requeued = self.scripts.park(waiting, business_id, limit, front=self._front(message))
        except redis.RedisError as exc:
            log.warning("SLOT_UNAVAILABLE actor=%s business_id=%s error=%s", message.actor_name, business_id,
                        type(exc).__name__)
            raise SlotUnavailable(f"could not take a {message.actor_name} slot: Redis unreachable") from exc
        if active > 0:
            with self._lock:
                self.held[message.message_id] = (limit, business_id,
                                                 self.scripts.slots_key(message.actor_name, business_id))
            log.info("SLOT_ACQUIRED actor=%s business_id=%s job_id=%s%s active=%d/%d", message.actor_name,
                     business_id, message.options.get("job_id", "-"), _subject(message), active, limit)
            return
        log.info("JOB_DEFERRED actor=%s business_id=%s job_id=%s%s reason=no_free_slot active=%d/%d to=%s",
                 message.actor_name, business_id, message.options.get("job_id", "-"), _subject(message), -active, limit,
                 "queue" if requeued else "waiting_list")
        raise SkipMessage("no free slot")

    def _release_slot(self, broker, message, reason: str):
        with self._lock:
            held = self.held.pop(message.message_id, None)
        if held is None:
            return
        limit, business_id, _key = held
        active = self.scripts.release(message.actor_name, business_id, limit, message.message_id)
        waiting = self.client.llen(self.scripts.waiting_key(message.actor_name, business_id))
        log.info("SLOT_RELEASED actor=%s business_id=%s job_id=%s%s reason=%s active_after=%d/%d waiting_after=%d",
                 message.actor_name, business_id, message.options.get("job_id", "-"), _subject(message), reason,
                 active, limit, waiting)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        # Retries ran first (after_* hooks run bottom-up), so message.failed tells a retry from the end.
        reason = "success" if exception is None else "failed" if message.failed else "retry"
        self._release_slot(broker, message, reason)

    def after_skip_message(self, broker, message):
        self._release_slot(broker, message, "skipped")

    # Heartbeat side -----------------------------------------------------------------------
    def renew_leases(self) -> None:
        """Extend every slot this process holds (called from the worker heartbeat)."""
        with self._lock:
            held = [(message_id, entry[2]) for message_id, entry in self.held.items()]
        if not held:
            return
        expiry = int(time.time() * 1000) + self.lease_ms
        pipe = self.client.pipeline(transaction=False)
        for message_id, key in held:
            pipe.zadd(key, {message_id: expiry}, xx=True)
            pipe.pexpire(key, self.key_ttl_ms)
        pipe.execute()

    def sweep_waiting(self, broker) -> int:
        """Move waiting messages whose business has free slots again (expired leases) into their queue."""
        moved = 0
        for _key, actor_name, business_id in self.scripts.waiting_lists():
            limit = self.limit_for(broker, actor_name)
            if limit:
                moved += self.scripts.sweep(actor_name, business_id, limit)
        if moved:
            log.info("SLOT_SWEEP moved=%d", moved)
        return moved

    def slots_in_use(self) -> dict[str, int]:
        """Slots in use per actor, across all workers (for metrics and health)."""
        now = int(time.time() * 1000)
        counts: dict[str, int] = {}
        for name, actor in self.scripts.slot_sets():
            counts[actor] = counts.get(actor, 0) + self.client.zcount(name, now, "+inf")
        return counts


def _subject(message) -> str:
    """` call_sid=…` for a recording's message (what the runbooks grep by), else nothing."""
    call_sid = message.kwargs.get("call_sid") if isinstance(message.kwargs, dict) else None
    return f" call_sid={call_sid}" if call_sid else ""


def waiting_counts(client, keys) -> dict[str, int]:
    """Messages waiting for a per-business slot, per queue, all businesses.

    Each entry names the queue its message goes to (a priority download waits for `high`, not its actor's
    queue), so the count needs no actor registry.
    """
    return SlotScripts(client, keys, queued_lease_ms=0, key_ttl_ms=0).waiting_per_queue()
