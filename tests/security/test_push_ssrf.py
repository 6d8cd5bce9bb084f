"""Push subscriptions cannot point workers at internal addresses: refused at registration and at send."""
from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from db import push_store
from tests.recordings.helpers import wait_job
from tests.security.spy_server import SpyServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def browser_keys() -> dict:
    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": b64url(public), "auth": b64url(os.urandom(16))}


@pytest.fixture
def listener():
    with SpyServer() as spy:
        yield spy


@pytest.fixture
def second_listener():
    with SpyServer() as spy:
        yield spy


def vapid_private_key() -> str:
    vapid = Vapid()
    vapid.generate_keys()
    return b64url(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))


def test_registering_an_internal_or_foreign_endpoint_is_422_and_never_contacted(client, business, listener,
                                                                                  clean_queues):
    for endpoint in (f"{listener.url}/push/x", "http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/",
                     f"https://evil.example\\@fcm.googleapis.com/x", "https://fcm.googleapis.com.evil.example/x",
                     f"{listener.url.replace('127.0.0.1', 'localhost')}/push/x"):
        answer = client.simulate_post("/api/push/subscriptions", headers=business.headers,
                                      json={"user_id": "u", "endpoint": endpoint, "keys": browser_keys()})
        assert answer.status_code == 422, (endpoint, answer.text)
        assert "endpoint" in answer.json["description"] and "PUSH_ENDPOINT_HOSTS" in answer.json["description"]
    assert listener.connections == 0


def test_a_stored_endpoint_is_refused_at_send_and_a_redirect_is_not_followed(
        client, business, runtime, listener, second_listener, worker_factory, clean_queues):
    # Subscriptions saved before the allow-list tightened (written directly, as an old install has them).
    by_name = f"http://localhost:{listener.url.rsplit(':', 1)[1]}/push/internal"   # resolves to 127.0.0.1
    redirecting = listener.route("/push/redirect", 307, {"Location": f"{second_listener.url}/push/admin"})
    with runtime.database.session() as session:
        internal, _ = push_store.save_subscription(session, business_id=business.id, user_id="victim",
                                                   endpoint=by_name, **browser_keys())
        redirected, _ = push_store.save_subscription(session, business_id=business.id, user_id="victim",
                                                     endpoint=redirecting, **browser_keys())
        ids = internal.id, redirected.id
    # The operator lists the name (not its loopback address) and the redirecting origin literally.
    worker_factory(queues="default", modules=(), env={
        "VAPID_PRIVATE_KEY": vapid_private_key(),
        "PUSH_ENDPOINT_HOSTS": f"http://localhost:{listener.url.rsplit(':', 1)[1]},{listener.url}"})
    answer = client.simulate_post("/api/notifications", headers=business.headers,
                                  json={"user_id": "victim", "title": "t", "body": "b"})
    assert answer.status_code == 202
    job = wait_job(answer.json["job_id"], "completed", "failed", timeout=60)
    assert job.status == "completed", job.error
    assert job.result["reasons"] == {ids[0]: "unreachable", ids[1]: "rejected"}
    assert job.attempts == 1   # refusals are final, not retried
    assert [r["path"] for r in listener.requests] == ["/push/redirect"]   # the named-only endpoint: never
    assert second_listener.connections == 0
    view = client.simulate_get(f"/api/jobs/{job.id}", headers=business.headers).text
    assert "127.0.0.1" not in view and "localhost" not in view and "Connection" not in view
