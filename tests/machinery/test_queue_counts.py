"""Queue depths as operators see them, read from Redis alone (no actor registry needed)."""
from prosaas.queue_stats import queue_counts
from tests.support import sample_actors

LIMIT = 3  # sample_actors.limited has per_business=3


def test_a_priority_message_waiting_for_a_slot_counts_on_the_queue_it_waits_for(broker, runtime, clean_queues):
    for i in range(LIMIT):
        sample_actors.limited.send(business_id=71, marker=f"a{i}")
    urgent = sample_actors.limited.message(business_id=71, marker="urgent").copy(queue_name="high")
    broker.enqueue(urgent)  # as a priority recording download is sent; every slot is taken, so it waits

    counts = queue_counts(runtime)
    assert counts["high"]["waiting"] == 1
    assert counts["recordings"] == {"ready": LIMIT, "delayed": 0, "running": 0, "waiting": 0, "dead_letters": 0}
