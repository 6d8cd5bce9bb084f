"""Fixtures for the messaging tests: fake Baileys and Web Push servers, VAPID keys, one real worker."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from py_vapid import Vapid

from tests.support.fake_baileys import FakeBaileys
from tests.support.fake_webpush import FakeWebPush
from tests.support.processes import start_worker, wait_for

WEBHOOK_SECRET = "test-whatsapp-secret"  # set for the run in tests/support/environment.py


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(client, payload: dict, signature: str | None = None):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Signature": signature or sign(body)}
    return client.simulate_post("/whatsapp/webhook", body=body, headers=headers)


@pytest.fixture(scope="session")
def vapid_private_key() -> str:
    """A VAPID key as web-push tools print it: the raw 32-byte private number, base64url."""
    vapid = Vapid()
    vapid.generate_keys()
    number = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(number).decode().rstrip("=")


@pytest.fixture(scope="module")
def fake_baileys():
    with FakeBaileys() as server:
        yield server


@pytest.fixture(scope="module")
def fake_webpush():
    with FakeWebPush() as server:
        yield server


@pytest.fixture(scope="module")
def messaging_worker(tmp_path_factory, fake_baileys, vapid_private_key, broker):
    """One real `prosaas worker` (default, low, maintenance) for the module, wired to the fakes."""
    logs = tmp_path_factory.mktemp("messaging-worker")
    role = start_worker(logs, queues="default,low,maintenance", modules=(), greenlets=8, name="messaging-worker",
                        env={"BAILEYS_URL": fake_baileys.url, "VAPID_PRIVATE_KEY": vapid_private_key,
                             "VAPID_SUBJECT": "mailto:ops@prosaas.test"})
    yield role
    role.stop(timeout=30)


def wait_job(runtime, job_id: str, statuses=("completed", "failed"), timeout: float = 40):
    from db import job_store

    def done():
        with runtime.database.session() as session:
            job = job_store.get_job(session, job_id)
            return job if job.status in statuses else None
    return wait_for(done, timeout, interval=0.1, what=f"job {job_id} to reach {statuses}")
