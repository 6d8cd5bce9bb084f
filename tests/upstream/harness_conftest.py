"""Fixtures of Dramatiq's own test-suite, with our broker swapped in (copied next to its tests as conftest.py).

Dramatiq's tests ask for `stub_broker`/`redis_broker` and their workers; here each is a ProsaasBroker with
the whole prosaas middleware stack (prosaas.broker_stack.build_broker) on the private valkey the runner started,
namespace `dramatiq` as in Dramatiq's own set-up. UpstreamBroker adds the two StubBroker conveniences those
tests call (`join(..., fail_fast=...)`, `dead_letters`); nothing of the broker's behaviour is changed.
"""
from __future__ import annotations

import dataclasses
import os

import dramatiq
import pytest
from dramatiq import Message, Worker
from dramatiq.results.backends.redis import RedisBackend

from prosaas.broker_stack import build_broker
from prosaas.redis_broker import ProsaasBroker
from prosaas.redis_protocol import Protocol, canonical_queue, without_broker_options
from prosaas.runtime import get_runtime
from prosaas.settings import ALL_QUEUES


class UpstreamBroker(ProsaasBroker):
    fail_fast_default = False  # StubBroker's is True: the `stub_broker` fixture sets it

    def emit_before(self, signal, *args, **kwargs):
        # Recorded before the nack reaches Redis, so a join that sees the queue empty also sees the failure
        # (recording it after the nack raced with join on a loaded machine). The exception is kept by type
        # and args: keeping the object would keep its frames alive.
        if signal == "nack":
            message, exception = args[0], args[0]._exception
            failure = (type(exception), exception.args) if exception is not None else None
            self.__dict__.setdefault("_nacked", []).append((message.queue_name, failure))
        super().emit_before(signal, *args, **kwargs)

    def join(self, queue_name, *, interval=100, timeout=None, fail_fast=None):
        """RedisBroker.join; with fail_fast (StubBroker's), raise the failure of a message dead-lettered."""
        super().join(queue_name, interval=interval, timeout=timeout)
        if fail_fast if fail_fast is not None else self.fail_fast_default:
            for name, failure in self.__dict__.get("_nacked", []):
                if canonical_queue(name) == queue_name:
                    kind, args = failure or (Exception, ("Message failed with unknown error",))
                    raise kind(*args) from None

    @property
    def dead_letters(self) -> list[Message]:
        protocol = Protocol(self.client, get_runtime().keys)
        messages = [Message.decode(raw) for queue in sorted(self.queues | set(ALL_QUEUES))
                    for _id, _at, raw in reversed(protocol.newest_dead_letters(queue, 10_000))]
        # As StubBroker keeps them: without the options only a Redis broker adds.
        return [dataclasses.replace(m, options=without_broker_options(m.options)) for m in messages]


def make_broker() -> UpstreamBroker:
    if os.environ.get("PROSAAS_UPSTREAM_PRIVATE_REDIS") != "1":  # Dramatiq's tests FLUSHALL between tests
        pytest.exit("run Dramatiq's tests through tests/upstream/run_upstream.py (a private valkey)", 2)
    broker = build_broker(get_runtime())
    broker.__class__ = UpstreamBroker  # same object and stack, plus the two conveniences above
    broker.client.flushall()
    broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    return broker


def stop(broker) -> None:
    broker.flush_all()
    broker.emit_before("process_stop")
    broker.close()


@pytest.fixture
def stub_broker():
    broker = make_broker()
    broker.fail_fast_default = True
    yield broker
    stop(broker)


@pytest.fixture
def redis_broker():
    broker = make_broker()
    yield broker
    stop(broker)


@pytest.fixture
def stub_worker(stub_broker):
    worker = Worker(stub_broker, worker_timeout=100, worker_threads=32)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def redis_worker(redis_broker):
    worker = Worker(redis_broker, worker_timeout=100, worker_threads=32)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def redis_result_backend():
    return RedisBackend(client=get_runtime().redis)


result_backend = redis_result_backend
