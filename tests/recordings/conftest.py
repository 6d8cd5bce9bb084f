"""Fixtures for the recordings tests: a fake Twilio recordings server, a fake speech-to-text server, workers."""
from __future__ import annotations

import pytest

from tests.support.fake_stt import FakeSTT
from tests.support.fake_twilio import FakeTwilio

RECORDING_QUEUES = "recordings,high,low"


@pytest.fixture
def fake_twilio(test_env):
    fake = FakeTwilio(account_sid=test_env["TWILIO_ACCOUNT_SID"], auth_token=test_env["TWILIO_AUTH_TOKEN"])
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def fake_stt():
    fake = FakeSTT()
    yield fake
    fake.close()


@pytest.fixture
def recordings_worker(worker_factory, clean_queues):
    """Start a real worker for this test on the recordings queues (extra env and queues may be given)."""
    def start(queues: str = RECORDING_QUEUES, **kwargs):
        kwargs.setdefault("greenlets", 10)
        return worker_factory(queues=queues, modules=(), **kwargs)
    return start


@pytest.fixture(scope="module")
def module_worker(tmp_path_factory, broker):
    """One real worker shared by a module's tests (starting one costs seconds): `module_worker(queues, env)`."""
    from tests.support.processes import start_worker

    started = []

    def start(queues: str = RECORDING_QUEUES, **kwargs):
        if not started:
            kwargs.setdefault("greenlets", 12)
            started.append(start_worker(tmp_path_factory.mktemp("logs"), queues=queues, modules=(), **kwargs))
        return started[0]
    yield start
    for role in started:
        role.stop(timeout=30)
