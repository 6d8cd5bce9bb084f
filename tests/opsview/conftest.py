"""Fixtures of the operators'-view tests: no queue stays paused after a test."""
import pytest


@pytest.fixture
def no_paused_queues(runtime):
    from prosaas.queue_pause import paused_key

    runtime.redis.delete(paused_key(runtime.keys))
    yield
    runtime.redis.delete(paused_key(runtime.keys))


@pytest.fixture
def clean_history(runtime):
    """No history buckets from earlier tests (they share the run's Redis namespace)."""
    def flush():
        for key in runtime.redis.scan_iter(match=runtime.keys("history", "*"), count=1000):
            runtime.redis.delete(key)
    flush()
    yield
    flush()
