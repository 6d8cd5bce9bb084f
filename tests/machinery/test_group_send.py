"""Group send on real Redis: concurrent enqueues share round trips and land exactly as Dramatiq's enqueue.

The shared broker is driven from many threads at once (no worker runs, so the queue can be read back);
failures use a broker of their own: one on a private valkey whose scripts are flushed, one on a port
where nothing listens.
"""
from __future__ import annotations

import threading

import pytest
import redis
from dramatiq import Message

from dramatiq.brokers.redis import MAINTENANCE_SCALE

from prosaas.redis_broker import ProsaasBroker
from tests.support import sample_actors
from tests.support.private_servers import PrivateValkey
from tests.support.processes import free_port


def run_together(count: int, call) -> list:
    """Call `call(i)` from `count` threads released at the same moment; each result or exception."""
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        try:
            results[index] = call(index)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[index] = exc
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def queued_messages(runtime, queue_name: str) -> list[Message]:
    client, keys = runtime.redis, runtime.keys
    return [Message.decode(client.hget(keys.queue_messages(queue_name), redis_id))
            for redis_id in client.lrange(keys.queue(queue_name), 0, -1)]


def test_concurrent_enqueues_land_once_each_and_share_round_trips(broker, runtime, clean_queues):
    batches_before, sends_before = broker.sends.batches_written, broker.sends.writes_written
    sent = run_together(200, lambda i: sample_actors.record_run.send(business_id=1, marker=f"group-{i}"))
    assert not [m for m in sent if isinstance(m, Exception)], sent
    queued = queued_messages(runtime, "default")
    assert sorted(m.message_id for m in queued) == sorted(m.message_id for m in sent)
    assert sorted(m.kwargs["marker"] for m in queued) == sorted(f"group-{i}" for i in range(200))
    assert all(m.options["redis_message_id"] for m in queued)
    assert broker.sends.writes_written - sends_before == 200
    assert broker.sends.batches_written - batches_before < 200  # messages went to Redis together


def test_a_delayed_message_goes_to_the_delay_queue_with_its_eta(broker, runtime, clean_queues):
    message = sample_actors.record_run.send_with_options(kwargs={"business_id": 1, "marker": "later"}, delay=60_000)
    [queued] = queued_messages(runtime, "default.DQ")
    assert queued.message_id == message.message_id and queued.options["eta"] == message.options["eta"]
    assert queued_messages(runtime, "default") == []


def own_broker(url: str, namespace: str) -> ProsaasBroker:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    broker = ProsaasBroker(client=client, namespace=namespace, middleware=[])
    broker.declare_queue("default")
    return broker


@pytest.mark.parametrize("maintenance", ["never", "always"])
def test_each_message_lands_as_dramatiqs_enqueue_puts_it(test_env, maintenance):
    """With or without Dramatiq's maintenance (requeueing dead workers' messages) drawn in the same call."""
    namespace = f"{test_env['PROSAAS_REDIS_NAMESPACE']}-own-{maintenance}"
    broker = own_broker(test_env["REDIS_URL"], namespace)
    broker.maintenance_chance = MAINTENANCE_SCALE if maintenance == "always" else 0
    try:
        sent = run_together(10, lambda i: broker.enqueue(
            Message(queue_name="default", actor_name="a", args=(), kwargs={"n": i}, options={})))
        client = broker.client
        assert client.llen(f"{namespace}:default") == 10
        for message in sent:
            stored = client.hget(f"{namespace}:default.msgs", message.options["redis_message_id"])
            assert stored == message.encode()
        assert client.zscore(f"{namespace}:__heartbeats__", broker.broker_id) is not None
    finally:
        for key in broker.client.scan_iter(match=f"{namespace}:*"):
            broker.client.delete(key)


def test_messages_are_sent_after_redis_lost_the_script():
    with PrivateValkey() as server:
        broker = own_broker(server.url, "group-send-noscript")
        broker.enqueue(Message(queue_name="default", actor_name="a", args=(), kwargs={}, options={}))
        server.client().script_flush()  # what a Redis restart without persistence of scripts looks like
        sent = run_together(20, lambda i: broker.enqueue(
            Message(queue_name="default", actor_name="a", args=(), kwargs={"n": i}, options={})))
        assert not [m for m in sent if isinstance(m, Exception)], sent
        assert server.client().llen("group-send-noscript:default") == 21


def test_every_caller_of_a_failed_batch_gets_its_own_connection_error():
    broker = own_broker(f"redis://127.0.0.1:{free_port()}/0", "group-send-down")  # nothing listens there
    outcome = run_together(20, lambda i: broker.enqueue(
        Message(queue_name="default", actor_name="a", args=(), kwargs={"n": i}, options={})))
    assert all(isinstance(error, redis.ConnectionError) for error in outcome), outcome
    assert len({id(error) for error in outcome}) == 20  # one exception object per caller
    with pytest.raises(redis.ConnectionError):  # and the sender is still there for the next message
        broker.enqueue(Message(queue_name="default", actor_name="a", args=(), kwargs={}, options={}))
