"""Per-business waiting lists on real Redis: admission at enqueue, oldest first, sweeping expired slots.

These drive the broker's enqueue and the BusinessSlots scripts directly (no worker), so the order of
messages in Dramatiq's queue and in the waiting list can be read exactly.
"""
import time

import dramatiq
import pytest

from prosaas.middleware.slots import BusinessSlots
from prosaas.redis_protocol import prepare_for_enqueue
from tests.support import sample_actors

LIMIT = 3  # sample_actors.limited has per_business=3


@pytest.fixture
def slots(broker) -> BusinessSlots:
    return broker.slots


def queued_ids(runtime) -> list[str]:
    """Dramatiq message ids in the recordings queue, head first."""
    client, keys = runtime.redis, runtime.keys
    ids = []
    for redis_id in client.lrange(keys.queue("recordings"), 0, -1):
        data = client.hget(keys.queue_messages("recordings"), redis_id)
        ids.append(dramatiq.Message.decode(data).message_id)
    return ids


def waiting_length(slots, business_id) -> int:
    return slots.client.llen(slots.scripts.waiting_key("limited", business_id))


def send(business_id, tag):
    return sample_actors.limited.send(business_id=business_id, marker=tag)


def test_enqueue_admits_up_to_the_limit_and_the_rest_wait_oldest_first(slots, runtime, clean_queues):
    a_messages = [send(11, f"a{i}") for i in range(5)]
    b_message = send(12, "b")
    assert queued_ids(runtime) == [m.message_id for m in a_messages[:LIMIT]] + [b_message.message_id]
    assert waiting_length(slots, 11) == 2 and waiting_length(slots, 12) == 0

    slots.scripts.release("limited", 11, LIMIT, a_messages[0].message_id)
    assert queued_ids(runtime)[-1] == a_messages[3].message_id  # the oldest waiting one moved in
    assert waiting_length(slots, 11) == 1
    moved = dramatiq.Message.decode(runtime.redis.hget(runtime.keys.queue_messages("recordings"),
                                                       runtime.redis.lindex(runtime.keys.queue("recordings"), -1)))
    assert moved.kwargs == a_messages[3].kwargs and moved.options["redis_message_id"]
    assert runtime.redis.hlen(slots.scripts.waiting_key("limited", 11) + ":msgs") == 1


def test_a_delivery_without_a_slot_waits_behind_older_messages(slots, runtime, clean_queues):
    admitted = [send(21, f"a{i}") for i in range(LIMIT)]
    for message in admitted:  # they start: their queued slot becomes a running slot
        assert slots.scripts.acquire(message, 21, LIMIT, lease_ms=slots.lease_ms) > 0
    waiting = send(21, "older")
    stray = sample_actors.limited.message(business_id=21, marker="stray")  # e.g. its lease ran out in the queue
    assert slots.scripts.acquire(stray, 21, LIMIT, lease_ms=slots.lease_ms) == -LIMIT
    assert slots.scripts.park(stray.copy(options={"redis_message_id": "r-stray"}), 21, LIMIT, front=False) is False
    assert waiting_length(slots, 21) == 2

    for message in admitted[:2]:
        slots.scripts.release("limited", 21, LIMIT, message.message_id)
    assert queued_ids(runtime)[-2:] == [waiting.message_id, stray.message_id]
    assert waiting_length(slots, 21) == 0


def test_the_sweep_lets_waiting_messages_in_when_queued_slots_expire(runtime, broker, clean_queues):
    # Slots given at enqueue expire almost at once: admitted as ProsaasBroker.enqueue admits them.
    slots = BusinessSlots(runtime.redis, runtime.keys, queued_lease_seconds=0.2)
    for i in range(LIMIT + 2):
        slots.admit(prepare_for_enqueue(sample_actors.limited.message(business_id=31, marker=f"a{i}")), LIMIT)
    assert waiting_length(slots, 31) == 2
    time.sleep(0.3)
    assert slots.sweep_waiting(broker) == 2
    assert waiting_length(slots, 31) == 0 and len(queued_ids(runtime)) == LIMIT + 2


def test_a_priority_message_waits_ahead_of_its_business_backlog(slots, runtime, clean_queues):
    for i in range(LIMIT + 2):
        send(61, f"a{i}")
    urgent = sample_actors.limited.message(business_id=61, marker="urgent").copy(queue_name="high")
    sample_actors.limited.broker.enqueue(urgent)  # as a priority recording download is sent
    assert waiting_length(slots, 61) == 3
    first_ready = runtime.redis.llen(runtime.keys.queue("recordings"))
    released = queued_ids(runtime)[0]
    slots.scripts.release("limited", 61, LIMIT, released)
    assert runtime.redis.llen(runtime.keys.queue("recordings")) == first_ready  # nothing of the backlog moved
    high = runtime.redis.lrange(runtime.keys.queue("high"), 0, -1)
    assert [dramatiq.Message.decode(runtime.redis.hget(runtime.keys.queue_messages("high"), rid)).message_id
            for rid in high] == [urgent.message_id]


def test_queue_counts_show_messages_waiting_for_a_slot(slots, runtime, clean_queues):
    from prosaas.queue_stats import queue_counts

    for i in range(LIMIT + 4):
        send(41, f"a{i}")
    counts = queue_counts(runtime)["recordings"]
    assert counts["ready"] == LIMIT and counts["waiting"] == 4


def test_delayed_messages_take_their_slot_when_they_fall_due(slots, runtime, clean_queues):
    for i in range(LIMIT):
        send(51, f"a{i}")
    later = sample_actors.limited.send_with_options(kwargs={"business_id": 51, "marker": "later"}, delay=60_000)
    assert waiting_length(slots, 51) == 0  # a delayed message is only admitted when it is due
    assert runtime.redis.hlen(runtime.keys.queue_messages("recordings.DQ")) == 1
    broker = sample_actors.limited.broker
    due = later.copy(queue_name="recordings")
    del due.options["eta"]
    broker.enqueue(due)  # what Dramatiq's worker does with a due message
    assert waiting_length(slots, 51) == 1
