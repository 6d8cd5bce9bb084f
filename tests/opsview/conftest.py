"""Fixtures of the operators'-view tests: no queue stays paused after a test."""
import pytest


@pytest.fixture
def no_paused_queues(runtime):
    from prosaas.queue_pause import paused_key

    runtime.redis.delete(paused_key(runtime.keys))
    yield
    runtime.redis.delete(paused_key(runtime.keys))
