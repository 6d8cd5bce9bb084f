"""Fixtures for the security regression tests: the fake Twilio on its fixed port."""
from __future__ import annotations

import pytest

from tests.support.fake_twilio import FakeTwilio


@pytest.fixture
def fake_twilio(test_env):
    fake = FakeTwilio(account_sid=test_env["TWILIO_ACCOUNT_SID"], auth_token=test_env["TWILIO_AUTH_TOKEN"])
    yield fake
    fake.close()
