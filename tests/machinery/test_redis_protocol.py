"""Contract tests of prosaas/redis_protocol.py: Dramatiq's own RedisBroker and ours, side by side.

Each operation (send, delayed send, fetch, ack, nack, requeue, a dead worker's messages requeued or dead-
lettered, slot admission) runs on a stock RedisBroker in one namespace and on ours in another, on the same
private valkey; then every key of each namespace is read back and compared, with the parts that differ by
nature (broker ids, redis message ids, timestamps) replaced by placeholders. A Dramatiq upgrade that
changes its keys, its script arguments or what a command leaves in Redis fails here.
"""
from __future__ import annotations

import json
import threading

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results

from prosaas import redis_protocol
from prosaas.recovery import Recovery
from prosaas.redis_broker import ProsaasBroker
from prosaas.redis_protocol import Keys, SlotScripts, prepare_for_enqueue
from tests.machinery.helpers import retire_earlier_tests_rows
from tests.support.private_servers import PrivateValkey
from tests.support.processes import wait_for

STOCK, OURS = "stock", "ours"


@pytest.fixture(scope="module")
def valkey():
    with PrivateValkey() as server:
        yield server


@pytest.fixture
def pair(valkey):
    """A stock RedisBroker and a ProsaasBroker on one valkey, with nothing in Redis."""
    client = valkey.client()
    client.flushdb()
    stock = RedisBroker(client=client, namespace=STOCK, middleware=[], maintenance_chance=0)
    ours = ProsaasBroker(client=client, namespace=OURS, middleware=[], maintenance_chance=0)
    for broker in (stock, ours):
        broker.declare_queue("default")
    yield stock, ours
    ours.close()


class State:
    """Every Dramatiq key of a namespace, normalized so two brokers' states compare equal."""

    def __init__(self, broker, *, redis_ids: dict[str, str], skip: tuple[str, ...] = ()):
        self.broker, self.redis_ids, self.skip = broker, redis_ids, skip

    def text(self, value) -> str:
        value = value.decode() if isinstance(value, bytes) else str(value)
        if value.startswith("{"):
            data = json.loads(value)
            options = data.get("options", {})
            for name in ("redis_message_id", "eta"):
                if name in options:
                    options[name] = self.redis_ids.get(options[name], "<eta>")
            return json.dumps(data, sort_keys=True)
        value = value.replace(self.broker.broker_id, "<broker>")
        return self.redis_ids.get(value, value)

    def read(self) -> dict:
        client, namespace = self.broker.client, self.broker.namespace
        state = {}
        for raw_key in client.scan_iter(match=f"{namespace}:*"):
            key = self.text(raw_key)[len(namespace) + 1:]
            if key.startswith("px:") or key in self.skip:
                continue  # our own keys, beside Dramatiq's
            kind = client.type(raw_key).decode()
            if kind == "list":
                value = [self.text(v) for v in client.lrange(raw_key, 0, -1)]
            elif kind == "hash":
                value = {self.text(k): self.text(v) for k, v in client.hgetall(raw_key).items()}
            elif kind == "set":
                value = sorted(self.text(v) for v in client.smembers(raw_key))
            else:  # zset: members in order; scores are timestamps
                value = [self.text(v) for v in client.zrange(raw_key, 0, -1)]
            state[key] = (kind, value)
        return state


def both(pair, operation, *, skip=()) -> tuple[dict, dict]:
    """Run operation(broker, name) on each broker; their normalized states."""
    states = []
    for broker, name in zip(pair, (STOCK, OURS)):
        redis_ids = operation(broker, name) or {}
        states.append(State(broker, redis_ids=redis_ids, skip=skip).read())
    return states[0], states[1]


def message(n: int) -> Message:
    return Message(queue_name="default", actor_name="contract", args=(n,), kwargs={}, options={},
                   message_id=f"m{n}", message_timestamp=1_000 + n)


def ids_of(*sent) -> dict[str, str]:
    return {m.options["redis_message_id"]: f"<{m.message_id}>" for m in sent}


def fetch_all(broker, count: int):
    consumer = broker.consume("default", prefetch=count, timeout=10)
    fetched = []
    while len(fetched) < count:
        proxy = next(consumer)
        if proxy is not None:
            fetched.append(proxy)
    return consumer, fetched


def test_the_dispatch_script_is_the_one_this_protocol_was_written_against(pair):
    stock, _ours = pair
    assert dramatiq.__version__.startswith(redis_protocol.DRAMATIQ_SERIES)
    assert stock.scripts["dispatch"].sha == redis_protocol.DRAMATIQ_DISPATCH_SHA1


def test_send_and_delayed_send(pair):
    def send(broker, _name):
        return ids_of(broker.enqueue(message(1)), broker.enqueue(message(2), delay=60_000))
    stock, ours = both(pair, send)
    assert stock == ours
    assert set(stock) == {"default", "default.msgs", "default.DQ", "default.DQ.msgs", "__heartbeats__"}


def test_fetch_ack_nack_and_requeue(pair):
    sent = {}

    def send(broker, name):
        sent[name] = [broker.enqueue(message(n)) for n in range(4)]
        return ids_of(*sent[name])
    assert (lambda s: s[0] == s[1])(both(pair, send))

    consumers = {}

    def fetch(broker, name):
        consumers[name] = fetch_all(broker, 4)
        return ids_of(*sent[name])
    stock, ours = both(pair, fetch)
    assert stock == ours and stock["__acks__.<broker>.default"][1] == ["<m0>", "<m1>", "<m2>", "<m3>"]

    def settle(broker, name):
        consumer, (first, second, third, _fourth) = consumers[name]
        consumer.ack(first)        # ours: through the group ack
        consumer.nack(second)      # dead letter
        consumer.requeue([third])  # back to the queue, as at worker shutdown
        return ids_of(*sent[name])
    stock, ours = both(pair, settle)
    assert stock == ours and pair[1].acks.writes_written == 1  # our ack went through the group ack
    assert stock["default.XQ"][1] == ["<m1>"] and stock["default"][1] == ["<m2>"]
    assert stock["__acks__.<broker>.default"][1] == ["<m3>"]


@pytest.mark.parametrize("max_redeliveries, outcome", [(5, "requeued"), (0, "dead_lettered")])
def test_a_dead_workers_messages_as_dramatiqs_maintenance_and_nack_leave_them(pair, max_redeliveries, outcome):
    """Ours: prosaas/recovery.py. Dramatiq's: its maintenance (requeue) or, for a crash loop, its nack."""
    held = {}

    def hold(broker, name):
        held[name] = broker.enqueue(message(7))
        held[name + "consumer"] = fetch_all(broker, 1)
        broker.client.zadd(Keys(broker.namespace).heartbeats, {broker.broker_id: 0})  # it died long ago
        return ids_of(held[name])
    both(pair, hold)

    def recover(broker, name):
        if name == OURS:
            Recovery(broker.client, broker.namespace, ["default"], dead_after_seconds=60,
                     max_redeliveries=max_redeliveries).run_once()
        elif outcome == "dead_lettered":
            consumer, [proxy] = held[name + "consumer"]
            consumer.nack(proxy)
            broker.client.zrem(Keys(broker.namespace).heartbeats, broker.broker_id)  # maintenance's part
        else:
            observer = RedisBroker(client=broker.client, namespace=broker.namespace, middleware=[],
                                   maintenance_chance=1_000_000)
            observer.do_qsize("default")  # any command but ack/nack runs the maintenance when drawn
            broker.client.zrem(Keys(broker.namespace).heartbeats, observer.broker_id)
        return ids_of(held[name])
    stock, ours = both(pair, recover)
    assert stock == ours
    if outcome == "requeued":
        assert stock["default"][1] == ["<m7>"] and "__heartbeats__" not in stock
    else:
        assert stock["default.XQ"][1] == ["<m7>"] and "default" not in stock


def test_slot_admission_puts_a_message_where_enqueue_does(pair):
    stock_broker, ours_broker = pair
    scripts = SlotScripts(ours_broker.client, Keys(OURS), queued_lease_ms=60_000, key_ttl_ms=120_000)

    def send(broker, name):
        if name == STOCK:
            return ids_of(broker.enqueue(message(3)))
        prepared = prepare_for_enqueue(message(3))
        assert scripts.admit(prepared, 1, 5, front=False)
        return ids_of(prepared)
    stock, ours = both(pair, send, skip=("__heartbeats__",))
    assert stock == ours and set(stock) == {"default", "default.msgs"}


def test_every_key_of_ours_is_under_the_namespace(valkey, runtime):
    """The real middleware stack on a private valkey: sends, a delayed send, a retry, a dead letter, a stored
    result, a per-business slot, the worker's heartbeat and recovery; then no key outside the namespace."""
    from prosaas.broker_stack import build_broker
    from prosaas.runtime import Runtime

    namespace = "nsx"
    client = valkey.client()
    client.flushdb()
    # This worker's reconciler shares the run's database: a row an earlier test left owed a message would be
    # resent here and dead-lettered (an actor this broker lacks) next to the one letter counted below.
    retire_earlier_tests_rows()
    settings = runtime.settings.model_copy(update={"redis_url": valkey.url, "redis_namespace": namespace})
    broker = build_broker(Runtime(settings=settings, database=runtime.database, keys=Keys(namespace)))
    done = threading.Event()

    @dramatiq.actor(broker=broker, queue_name="default", store_results=True, max_retries=0)
    def answer(n):
        return n * 2

    @dramatiq.actor(broker=broker, queue_name="default", max_retries=1, min_backoff=10, max_backoff=20)
    def fails(n):
        raise RuntimeError("always")

    @dramatiq.actor(broker=broker, queue_name="recordings", per_business=1, max_retries=0)
    def limited(business_id):
        done.set()

    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        stored = answer.send(21)
        fails.send(1)
        limited.send(business_id=5)
        answer.send_with_options(args=(1,), delay=100)
        results = next(m for m in broker.middleware if isinstance(m, Results)).backend
        assert stored.get_result(backend=results, block=True, timeout=30_000) == 42
        wait_for(lambda: done.is_set() and client.zcard(Keys(namespace).dead_letters("default")) == 1, 30,
                 what="the retried message dead-lettered")
        broker.join("default", timeout=30_000)
    finally:
        worker.stop()
        broker.close()
    keys = [key.decode() for key in client.scan_iter(match="*")]
    assert any(key.startswith(f"{namespace}:px:results:") for key in keys), keys
    assert [key for key in keys if not key.startswith(f"{namespace}:")] == []


def test_no_module_but_the_protocol_names_a_dramatiq_key_or_private_api():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spelled = ("__acks__", "__heartbeats__", ".XQ", ".DQ", '.msgs"', 'options["redis_message_id"]', '"eta"',
               "_should_do_maintenance", "_max_unpack_size", 'scripts["dispatch"]', "_RedisConsumer", "dq_name")
    offenders = [f"{path.relative_to(root)}: {word}"
                 for floor in ("prosaas", "actors", "web", "db") for path in sorted((root / floor).rglob("*.py"))
                 if path.name != "redis_protocol.py" for word in spelled if word in path.read_text()]
    assert offenders == []
