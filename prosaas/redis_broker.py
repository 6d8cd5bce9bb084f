"""ProsaasBroker: Dramatiq's RedisBroker with per-business slot admission, group acks and lean hook dispatch."""
from __future__ import annotations

from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware, MiddlewareError

from prosaas.group_ack import AckBatcher
from prosaas.group_send import SendBatcher
from prosaas.middleware.slots import BusinessSlots
from prosaas.periodic_dedup import TickEnqueues
from prosaas.queue_pause import PausableConsumer, QueuePauses
from prosaas.redis_protocol import Keys, Protocol, enqueue_pipelined, is_delay_queue, prepare_for_enqueue, redis_id

IDLE_POLL_MS = 100  # the longest an idle consumer sleeps between two looks at its queue


class ProsaasBroker(RedisBroker):
    """Dramatiq's RedisBroker whose enqueue gives slot-limited messages their per-business slot.

    Its `do_ack` acks in groups (prosaas/group_ack.py), its `do_enqueue` shares one round trip with the
    process's concurrent enqueues (prosaas/group_send.py): Dramatiq's own entry points, so code that wraps
    them still sees every message. Middleware hooks are dispatched only to the middleware that define them.

    A message of an actor with `per_business` goes into the queue only with a free slot of its business,
    otherwise into that business's waiting list (BusinessSlots.admit); delayed messages are admitted when
    they fall due (Dramatiq's worker enqueues them again then). Everything else is Dramatiq's enqueue.
    """

    slots: BusinessSlots | None = None
    pauses: QueuePauses | None = None  # paused queues are not consumed (prosaas/queue_pause.py)
    known_queues: tuple[str, ...] | None = None  # set: an actor on any other queue fails at its declaration
    ticks: TickEnqueues | None = None  # periodic messages: once per actor and minute (prosaas/periodic_dedup.py)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.protocol = Protocol(self.client, Keys(self.namespace))
        self.acks = AckBatcher(self, self.protocol)
        self.sends = SendBatcher(self)
        self.redelivery_counts: dict[str, int] = {}  # as of the last fetched batch (do_fetch)

    def do_enqueue(self, queue_name: str, redis_message_id: str, data: bytes) -> None:
        """Dramatiq's `enqueue` command, sent together with this process's concurrent enqueues."""
        self.sends.send(queue_name, redis_message_id, data)

    def do_fetch(self, queue_name: str, prefetch: int) -> list:
        """Dramatiq's `fetch` command; a batch fetched from a queue also reads the crash-redelivery counts.

        One HGETALL per fetched batch (of a hash that is empty but after a crash) instead of one HGET per job:
        RECOVER counts a message before it puts it back in its queue, and ACK_MANY drops the count only once
        the message is done, so the counts read right after a fetch hold those of every message fetched.
        """
        fetched = self._dispatch("fetch")(queue_name, prefetch)
        if fetched and not is_delay_queue(queue_name):
            self.redelivery_counts = self.protocol.redelivery_counts()
        return fetched

    def redeliveries_of(self, message_id: str) -> int:
        """How many times a fetched message was delivered to a worker that crashed (JOB_PICKED attempt=)."""
        return self.redelivery_counts.get(message_id, 0)

    def do_ack(self, queue_name: str, redis_message_id: str) -> None:
        """Dramatiq's `ack` command (called by its consumer), done together with this process's other acks."""
        self.acks.ack(queue_name, redis_message_id)

    def declare_actor(self, actor) -> None:
        # Workers, recovery, health and the CLI all read the known queues: a queue only an actor names
        # would be consumed by nobody and recovered by nobody, silently.
        if self.known_queues is not None and actor.queue_name not in self.known_queues:
            raise ValueError(f"actor {actor.actor_name} uses queue {actor.queue_name!r}, which is not one of "
                             f"ALL_QUEUES in prosaas/settings.py ({', '.join(self.known_queues)})")
        super().declare_actor(actor)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        # An idle consumer polls Redis with a growing back-off capped at `timeout` (Dramatiq: the worker
        # timeout, 1 s, then 0.5-1 s between polls), so a job sent to a quiet queue waited up to a second
        # (bench/README.md, "Group acks"). Capped at IDLE_POLL_MS an idle consumer costs a few cheap
        # fetches a second.
        consumer = super().consume(queue_name, prefetch=prefetch, timeout=min(timeout, IDLE_POLL_MS))
        if self.pauses is None or is_delay_queue(queue_name):
            return consumer
        return PausableConsumer(consumer, self.pauses, queue_name)

    def close(self) -> None:
        """Dramatiq's close, and this process's group-ack and group-send threads stop (after their last batch)."""
        super().close()
        self.acks.close()
        self.sends.close()

    # Hook dispatch: Dramatiq calls every middleware's method for every signal, most of them the base
    # class's no-op; with our middleware that loop was a visible share of a no-op job's CPU (bench/README.md,
    # "Group acks and lean hook dispatch"). Here only the middleware
    # that define a hook are called, in the same order and with the same error handling. The table of who
    # defines what is forgotten whenever `broker.middleware` changes (add_middleware, append, ...), and each
    # hook is looked up when called, so a hook replaced later is the one called.
    @property
    def middleware(self) -> list:
        return self.__dict__["_middleware"]

    @middleware.setter
    def middleware(self, value) -> None:
        self.__dict__["_middleware"] = _MiddlewareList(value, self._forget_hooks)
        self._forget_hooks()

    def _forget_hooks(self) -> None:
        self.__dict__["_hook_cache"] = {}

    def _hooks(self, name: str) -> list:
        cache = self.__dict__["_hook_cache"]
        hooks = cache.get(name)
        if hooks is None:
            default = getattr(Middleware, name, None)
            hooks = cache[name] = [middleware for middleware in self.middleware
                                   if getattr(getattr(middleware, name, None), "__func__", None) is not default]
        return hooks

    def emit_before(self, signal: str, *args, **kwargs) -> None:
        name = "before_" + signal
        for middleware in self._hooks(name):
            try:
                getattr(middleware, name)(self, *args, **kwargs)
            except MiddlewareError:
                raise
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, middleware, exc_info=True)

    def emit_after(self, signal: str, *args, **kwargs) -> None:
        name = "after_" + signal
        for middleware in reversed(self._hooks(name)):
            try:
                getattr(middleware, name)(self, *args, **kwargs)
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, middleware, exc_info=True)

    def enqueue(self, message, *, delay=None):
        """RedisBroker.enqueue, step for step, but a message of a per_business actor goes into Redis through
        its business's slot admission instead of `do_enqueue`."""
        if self.ticks is not None and "scheduled_at" in message.options and not self.ticks.first_for_tick(message):
            return message  # another scheduler already enqueued this tick
        limit = self.slots.limit_for(self, message.actor_name) if self.slots and delay is None else None
        message = prepare_for_enqueue(message, delay)
        self.emit_before("enqueue", message, delay)
        if limit:
            self.slots.admit(message, limit)
        else:
            self.do_enqueue(message.queue_name, redis_id(message), message.encode())
        self.emit_after("enqueue", message, delay)
        return message

    def can_send_in_group(self, message) -> bool:
        """Whether `enqueue_group` may send this undelayed message: not a scheduler tick (de-duplicated in
        `enqueue`), not one that waits for its business's slot."""
        return ("scheduled_at" not in message.options
                and not (self.slots and self.slots.limit_for(self, message.actor_name)))

    def enqueue_group(self, messages) -> list[BaseException | None]:
        """`enqueue` for several undelayed messages (can_send_in_group) in ONE pipelined round trip made by the
        calling thread itself, with the same hooks, script and arguments; returns each message's error or None.
        Raises when the round trip itself fails (Redis unreachable)."""
        prepared = [prepare_for_enqueue(message) for message in messages]
        for message in prepared:
            self.emit_before("enqueue", message, None)
        errors = enqueue_pipelined(self, [(m.queue_name, redis_id(m), m.encode()) for m in prepared])
        for message, error in zip(prepared, errors):
            if error is None:
                self.emit_after("enqueue", message, None)
        return errors

class _MiddlewareList(list):
    """A broker's middleware list that tells the broker when it changes (its hook table is then rebuilt)."""

    def __init__(self, items, changed):
        super().__init__(items)
        self._changed = changed


def _notifying(name):
    def method(self, *args, **kwargs):
        outcome = getattr(list, name)(self, *args, **kwargs)
        self._changed()
        return outcome
    method.__name__ = name
    return method


for _name in ("append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "__setitem__",
              "__delitem__", "__iadd__"):
    setattr(_MiddlewareList, _name, _notifying(_name))
