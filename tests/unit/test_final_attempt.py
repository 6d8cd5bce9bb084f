"""is_final_attempt (prosaas.middleware.retries) answers, from inside each attempt, what Retries then does."""
import dramatiq
import pytest

from prosaas.errors import PermanentError
from prosaas.middleware.retries import DEFAULT_MAX_RETRIES, is_final_attempt


class Refused(Exception):
    pass


@pytest.fixture
def answers():
    return []


def _failing(stub_broker, answers, error, **options):
    def flaky(business_id):
        try:
            raise error
        except Exception as exc:
            answers.append(is_final_attempt(actor, exc))
            raise
    actor = dramatiq.actor(flaky, broker=stub_broker, min_backoff=1, max_backoff=2, **options)
    return actor


def _run(stub_broker, stub_worker, start_tracked, business, actor):
    start_tracked(actor, business.id)
    stub_broker.join("default", fail_fast=False)
    stub_worker.join()


@pytest.mark.parametrize("options, expected", [
    ({"max_retries": 2}, [False, False, True]),
    ({}, [False] * DEFAULT_MAX_RETRIES + [True]),  # the middleware's default
    ({"max_retries": 0}, [True]),
    ({"retry_when": lambda retries, exc: retries < 1}, [False, True]),
    ({"throws": (RuntimeError,)}, [True]),
])
def test_only_the_last_try_is_final(options, expected, stub_broker, stub_worker, start_tracked, business, answers):
    actor = _failing(stub_broker, answers, RuntimeError("try again"), **options)
    _run(stub_broker, stub_worker, start_tracked, business, actor)
    assert answers == expected


def test_a_permanent_error_is_final_at_once(stub_broker, stub_worker, start_tracked, business, answers):
    actor = _failing(stub_broker, answers, PermanentError("no use retrying"), max_retries=5)
    _run(stub_broker, stub_worker, start_tracked, business, actor)
    assert answers == [True]
