"""ProsaasBroker: Dramatiq's RedisBroker with per-business slot admission, group acks and lean hook dispatch."""
from __future__ import annotations

from uuid import uuid4

from dramatiq.brokers.redis import RedisBroker, dq_name
from dramatiq.common import current_millis
from dramatiq.middleware import Middleware, MiddlewareError

from prosaas.group_ack import AckBatcher, GroupAckConsumer
from prosaas.group_send import Send, SendBatcher
from prosaas.middleware.slots import BusinessSlots

IDLE_POLL_MS = 100  # the longest an idle consumer sleeps between two looks at its queue


class ProsaasBroker(RedisBroker):
    """Dramatiq's RedisBroker whose enqueue gives slot-limited messages their per-business slot.

    Its consumers ack in groups (prosaas/group_ack.py), its process's concurrent enqueues share one round
    trip (prosaas/group_send.py), and middleware hooks are dispatched only to the middleware that define them.

    A message of an actor with `per_business` goes into the queue only with a free slot of its business,
    otherwise into that business's waiting list (BusinessSlots.admit); delayed messages are admitted when
    they fall due (Dramatiq's worker enqueues them again then). Everything else is Dramatiq's enqueue.
    """

    slots: BusinessSlots | None = None
    known_queues: tuple[str, ...] | None = None  # set: an actor on any other queue fails at its declaration

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acks = AckBatcher(self)
        self.sends = SendBatcher(self)

    def declare_actor(self, actor) -> None:
        # Workers, recovery, health and the CLI all read the known queues: a queue only an actor names
        # would be consumed by nobody and recovered by nobody, silently.
        if self.known_queues is not None and actor.queue_name not in self.known_queues:
            raise ValueError(f"actor {actor.actor_name} uses queue {actor.queue_name!r}, which is not one of "
                             f"ALL_QUEUES in prosaas/settings.py ({', '.join(self.known_queues)})")
        super().declare_actor(actor)

    @property
    def consumer_class(self):
        return GroupAckConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        # An idle consumer polls Redis with a growing back-off capped at `timeout` (Dramatiq: the worker
        # timeout, 1 s, then 0.5-1 s between polls), so a job sent to a quiet queue waited up to a second
        # (bench/README.md, "Group acks"). Capped at IDLE_POLL_MS an idle consumer costs a few cheap
        # fetches a second.
        return super().consume(queue_name, prefetch=prefetch, timeout=min(timeout, IDLE_POLL_MS))

    # Hook dispatch: Dramatiq calls every middleware's method for every signal, most of them the base
    # class's no-op; with 13 middleware that loop was a measurable share of a no-op job's CPU (bench/README.md).
    # Here only the methods a middleware really defines are called, in the same order and error handling.
    def _hooks(self, name: str) -> list:
        cache = self.__dict__.setdefault("_hook_cache", {})
        hooks = cache.get(name)
        if hooks is None:
            default = getattr(Middleware, name, None)
            bound = [(middleware, getattr(middleware, name, None)) for middleware in self.middleware]
            hooks = cache[name] = [(middleware, hook) for middleware, hook in bound
                                   if hook is not None and getattr(hook, "__func__", None) is not default]
        return hooks

    def add_middleware(self, middleware, *, before=None, after=None) -> None:
        super().add_middleware(middleware, before=before, after=after)
        self.__dict__.pop("_hook_cache", None)

    def emit_before(self, signal: str, *args, **kwargs) -> None:
        name = "before_" + signal
        for middleware, hook in self._hooks(name):
            try:
                hook(self, *args, **kwargs)
            except MiddlewareError:
                raise
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, middleware, exc_info=True)

    def emit_after(self, signal: str, *args, **kwargs) -> None:
        name = "after_" + signal
        for middleware, hook in reversed(self._hooks(name)):
            try:
                hook(self, *args, **kwargs)
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, middleware, exc_info=True)

    def enqueue(self, message, *, delay=None):
        """RedisBroker.enqueue, step for step, but the message goes into Redis through the slot admission
        (per_business actors) or the group sender (everything else) instead of its own dispatch call."""
        limit = self.slots.limit_for(self, message.actor_name) if self.slots and delay is None else None
        message = message.copy(options={"redis_message_id": str(uuid4())})
        if delay is not None:
            message = message.copy(queue_name=dq_name(message.queue_name),
                                   options={"eta": current_millis() + delay})
        self.emit_before("enqueue", message, delay)
        if limit:
            self.slots.admit(message, limit)
        else:
            self.sends.send(message.queue_name, message.options["redis_message_id"], message.encode())
        self.emit_after("enqueue", message, delay)
        return message

    def can_send_in_group(self, message) -> bool:
        """Whether `enqueue_group` may send this (undelayed) message: not one that waits for a business slot."""
        return not (self.slots and self.slots.limit_for(self, message.actor_name))

    def enqueue_group(self, messages) -> list[BaseException | None]:
        """`enqueue` for several undelayed messages (can_send_in_group) in ONE pipelined round trip made by the
        calling thread itself, with the same hooks, script and arguments; returns each message's error or None.
        Raises when the round trip itself fails (Redis unreachable)."""
        prepared = []
        for message in messages:
            message = message.copy(options={"redis_message_id": str(uuid4())})
            self.emit_before("enqueue", message, None)
            prepared.append(message)
        sends = [Send(queue_name=m.queue_name, redis_message_id=m.options["redis_message_id"], data=m.encode())
                 for m in prepared]
        self.sends.handle_batch(sends)
        for message, send in zip(prepared, sends):
            if send.error is None:
                self.emit_after("enqueue", message, None)
        return [send.error for send in sends]
