"""One list of queues: every actor's queue is in it, and every queue in it is used."""
import dramatiq
import pytest

from prosaas.settings import ALL_QUEUES, PRIORITY_QUEUE


def test_every_known_queue_is_used_by_an_actor_or_is_the_priority_queue(broker):
    ours = {actor.queue_name for actor in broker.actors.values() if actor.fn.__module__.startswith("actors.")}
    assert ours | {PRIORITY_QUEUE} == set(ALL_QUEUES)


def test_an_actor_on_an_unknown_queue_fails_when_declared(broker):
    with pytest.raises(ValueError, match="'reciepts'.*ALL_QUEUES"):
        dramatiq.actor(lambda: None, broker=broker, actor_name="misrouted", queue_name="reciepts")
    assert "misrouted" not in broker.actors and "reciepts" not in broker.queues


def test_the_retired_receipts_queue_in_a_queue_list_is_ignored_with_a_note():
    from prosaas.settings import Settings

    settings = Settings(_env_file=None, worker_queues="default,receipts,maintenance")
    assert settings.consumed_queues == ["default", "maintenance"]
    assert any("receipts" in note for note in settings.legacy_notes)
