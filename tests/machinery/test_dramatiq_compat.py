"""Still Dramatiq as its users know it: what code written for a stock RedisBroker expects of ours.

Its entry points `do_enqueue`/`do_ack` see every message, middleware added or hooks replaced late are called,
the `max_age` option and AgeLimit exist, expected failures stay out of the error log, and close() stops the
threads the broker started.
"""
from __future__ import annotations

import logging

import dramatiq
import pytest
import redis
from dramatiq import Message, Middleware
from dramatiq.middleware import AgeLimit

from prosaas.redis_broker import ProsaasBroker
from prosaas.redis_protocol import Keys
from tests.support.processes import wait_for


def cleanup(client, namespace: str) -> None:
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        client.delete(key)


@pytest.fixture
def bare_broker(test_env):
    """Our broker class on the run's Redis, no middleware, in a namespace of its own."""
    namespace = f"{test_env['PROSAAS_REDIS_NAMESPACE']}:compat-bare"
    broker = ProsaasBroker(client=redis.Redis.from_url(test_env["REDIS_URL"]), namespace=namespace, middleware=[])
    broker.declare_queue("default")
    yield broker
    broker.close()
    cleanup(broker.client, namespace)


@pytest.fixture
def stack_broker(runtime, test_env):
    """Our broker with the whole prosaas middleware stack, in a namespace of its own."""
    from prosaas.broker_stack import build_broker
    from prosaas.runtime import Runtime

    namespace = f"{test_env['PROSAAS_REDIS_NAMESPACE']}-compat"
    settings = runtime.settings.model_copy(update={"redis_namespace": namespace})
    broker = build_broker(Runtime(settings=settings, database=runtime.database, keys=Keys(namespace)))
    yield broker
    broker.close()
    cleanup(broker.client, namespace)


def run_worker(broker, queue_name: str = "default") -> None:
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        broker.join(queue_name, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def fetch_one(broker):
    consumer = broker.consume("default", prefetch=1, timeout=10)
    proxy = wait_for(lambda: next(consumer), 10, interval=0.01, what="a message")
    return consumer, proxy


def test_code_wrapping_do_enqueue_and_do_ack_sees_every_message(bare_broker):
    calls = []
    enqueue, ack = bare_broker.do_enqueue, bare_broker.do_ack
    bare_broker.do_enqueue = lambda *args: (calls.append(("enqueue", args[0])), enqueue(*args))[1]
    bare_broker.do_ack = lambda *args: (calls.append(("ack", args[0])), ack(*args))[1]
    bare_broker.enqueue(Message(queue_name="default", actor_name="a", args=(), kwargs={}, options={}))
    consumer, proxy = fetch_one(bare_broker)
    consumer.ack(proxy)
    assert calls == [("enqueue", "default"), ("ack", "default")]
    assert bare_broker.acks.writes_written == 1 and bare_broker.sends.writes_written == 1  # still batched


class Recorder(Middleware):
    def __init__(self, calls, name):
        self.calls, self.name = calls, name

    def before_enqueue(self, broker, message, delay):
        self.calls.append(self.name)


def test_middleware_appended_or_a_hook_replaced_after_the_first_message_is_called(bare_broker):
    calls = []
    first = Recorder(calls, "first")
    bare_broker.add_middleware(first)

    def send():
        bare_broker.enqueue(Message(queue_name="default", actor_name="a", args=(), kwargs={}, options={}))
    send()
    bare_broker.middleware.append(Recorder(calls, "appended"))
    send()
    first.before_enqueue = lambda broker, message, delay: calls.append("replaced")
    send()
    assert calls == ["first", "first", "appended", "replaced", "appended"]


def test_max_age_is_an_actor_option_and_age_limit_is_in_the_stack(stack_broker):
    stack_broker.add_middleware(Recorder([], "before-age-limit"), before=AgeLimit)
    runs = []

    @dramatiq.actor(broker=stack_broker, queue_name="default", max_age=60_000, max_retries=0)
    def aged(n):
        runs.append(n)

    too_old = aged.message(1).copy(message_timestamp=aged.message(1).message_timestamp - 120_000)
    stack_broker.enqueue(too_old)
    aged.send(2)
    run_worker(stack_broker)
    assert runs == [2]  # the one past its age was dead-lettered without running
    assert stack_broker.client.zcard(Keys(stack_broker.namespace).dead_letters("default")) == 1


def test_retry_and_throws_outcomes_stay_out_of_the_error_log(stack_broker, caplog):
    @dramatiq.actor(broker=stack_broker, queue_name="default", throws=(KeyError,), max_retries=3)
    def expected(n):
        raise KeyError(n)

    @dramatiq.actor(broker=stack_broker, queue_name="default", max_retries=1)
    def asks_again(n):
        raise dramatiq.Retry(delay=10)

    @dramatiq.actor(broker=stack_broker, queue_name="default", max_retries=0)
    def broken(n):
        raise RuntimeError(n)

    with caplog.at_level(logging.INFO, logger="prosaas.jobs"):
        expected.send(1)
        asks_again.send(2)
        broken.send(3)
        run_worker(stack_broker)
        wait_for(lambda: stack_broker.client.zcard(Keys(stack_broker.namespace).dead_letters("default")) == 3,
                 30, what="three dead letters")
    failed = {record.event_fields["actor"]: record.levelno for record in caplog.records
              if record.getMessage() == "JOB_FAILED"}
    assert failed == {"expected": logging.INFO, "asks_again": logging.WARNING, "broken": logging.ERROR}


def test_close_stops_the_group_ack_and_group_send_threads(bare_broker):
    bare_broker.enqueue(Message(queue_name="default", actor_name="a", args=(), kwargs={}, options={}))
    consumer, proxy = fetch_one(bare_broker)
    consumer.ack(proxy)
    threads = [bare_broker.sends._handler, bare_broker.acks._handler]
    assert all(thread is not None and thread.is_alive() for thread in threads)
    bare_broker.close()
    assert not any(thread.is_alive() for thread in threads)
