"""Push subscriptions API and real Web Push delivery (decrypted by the fake push service)."""
from __future__ import annotations

from db import push_store
from tests.messaging.conftest import wait_job


def subscribe(client, business, user_id, subscription):
    answer = client.simulate_post("/api/push/subscriptions", json={"user_id": user_id, **subscription},
                                  headers=business.headers)
    assert answer.status_code == 201, answer.text
    return answer.json["id"]


def test_subscriptions_are_validated_saved_and_deleted(client, business, make_business, fake_webpush):
    subscription = fake_webpush.new_subscription()
    sub_id = subscribe(client, business, "user-1", subscription)
    assert subscribe(client, business, "user-1", subscription) == sub_id  # the same endpoint again
    bad_keys = {"user_id": "u", "endpoint": subscription["endpoint"], "keys": {"p256dh": "abc", "auth": "x"}}
    assert client.simulate_post("/api/push/subscriptions", json=bad_keys,
                                headers=business.headers).status_code == 422
    no_url = {"user_id": "u", "endpoint": "not a url", "keys": subscription["keys"]}
    assert client.simulate_post("/api/push/subscriptions", json=no_url, headers=business.headers).status_code == 422
    other = make_business("Other")
    assert client.simulate_delete(f"/api/push/subscriptions/{sub_id}", headers=other.headers).status_code == 404
    assert client.simulate_delete(f"/api/push/subscriptions/{sub_id}", headers=business.headers).status_code == 204
    assert client.simulate_delete(f"/api/push/subscriptions/{sub_id}", headers=business.headers).status_code == 404
    bad = client.simulate_post("/api/notifications", json={"user_id": "user-1"}, headers=business.headers)
    assert bad.status_code == 422


def test_notification_reaches_every_subscription_and_410_disables(client, business, runtime, fake_webpush,
                                                                  messaging_worker):
    phone, laptop, gone = (fake_webpush.new_subscription() for _ in range(3))
    someone_else = fake_webpush.new_subscription()
    ids = {name: subscribe(client, business, "user-2", sub)
           for name, sub in (("phone", phone), ("laptop", laptop), ("gone", gone))}
    subscribe(client, business, "user-3", someone_else)
    fake_webpush.answer(gone["endpoint"], 410)
    answer = client.simulate_post("/api/notifications", headers=business.headers, json={
        "user_id": "user-2", "title": "New booking", "body": "Dana booked 10:30", "url": "/calendar",
        "data": {"booking_id": 7}})
    assert answer.status_code == 202 and answer.json["job_id"]
    job = wait_job(runtime, answer.json["job_id"])
    assert job.status == "completed", job.error
    assert job.result == {"subscriptions": 3, "sent": 2, "gone": 1, "failed": 0, "already": 0, "unavailable": 0,
                          "reasons": {ids["gone"]: "gone"}}
    for sub in (phone, laptop):
        [delivery] = fake_webpush.received_by(sub["endpoint"])
        assert delivery["payload"] == {"title": "New booking", "body": "Dana booked 10:30", "url": "/calendar",
                                       "data": {"booking_id": 7}}
        assert delivery["vapid_ok"] and delivery["claims"]["sub"] == "mailto:ops@prosaas.test"
        assert delivery["encoding"] == "aes128gcm" and delivery["topic"]
    assert fake_webpush.received_by(someone_else["endpoint"]) == []
    with runtime.database.session() as session:
        assert push_store.get_subscription(session, business.id, ids["gone"]).active is False
        assert push_store.get_subscription(session, business.id, ids["phone"]).active is True
    # A disabled subscription is not tried again.
    again = client.simulate_post("/api/notifications", headers=business.headers,
                                 json={"user_id": "user-2", "title": "t", "body": "b"})
    assert wait_job(runtime, again.json["job_id"]).result["subscriptions"] == 2


def test_retry_after_partial_success_sends_nothing_twice(client, business, runtime, fake_webpush,
                                                         messaging_worker):
    healthy, flaky = fake_webpush.new_subscription(), fake_webpush.new_subscription()
    subscribe(client, business, "user-4", healthy)
    subscribe(client, business, "user-4", flaky)
    fake_webpush.answer(flaky["endpoint"], 500, times=1)
    answer = client.simulate_post("/api/notifications", headers=business.headers,
                                  json={"user_id": "user-4", "title": "Hi", "body": "once"})
    job = wait_job(runtime, answer.json["job_id"], timeout=60)
    assert job.status == "completed" and job.attempts == 2, (job.status, job.attempts, job.error)
    assert job.result["already"] == 1 and job.result["sent"] == 1   # the second attempt only sent to `flaky`
    assert len(fake_webpush.received_by(healthy["endpoint"])) == 1
    assert len(fake_webpush.received_by(flaky["endpoint"])) == 1
