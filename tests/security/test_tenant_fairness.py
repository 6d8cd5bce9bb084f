"""#12.9 One tenant cannot fill the shared queues: per-business limits on every tenant-triggered actor, a
per-API-key request rate (429 + Retry-After, a token bucket in Redis), a bounded diagnostics ping.
"""
from __future__ import annotations

import pytest
from falcon import testing

from actors.diagnostics import diagnostic_ping
from actors.push import push_send
from actors.sessions import process_audio_session
from actors.whatsapp import whatsapp_webhook
from prosaas.errors import BadInput
from prosaas.jobs import enqueue_tracked
from prosaas.runtime import Runtime
from prosaas.settings import Settings

TENANT_ACTORS = {  # actor -> (its setting, kwargs of a message that is never run here)
    push_send: ("push_per_business", {"user_id": "u1", "title": "t", "body": "b"}),
    whatsapp_webhook: ("whatsapp_per_business", {"messages": []}),
    process_audio_session: ("sessions_per_business", {"session_id": "s1"}),
    diagnostic_ping: ("diagnostics_per_business", {}),
}


@pytest.mark.parametrize("actor", list(TENANT_ACTORS), ids=lambda a: a.actor_name)
def test_a_business_past_its_limit_waits_in_its_own_list(actor, make_business, runtime, clean_queues):
    setting, kwargs = TENANT_ACTORS[actor]
    limit = getattr(runtime.settings, setting)
    busy, other = make_business("Busy"), make_business("Other")
    for _ in range(limit + 2):
        enqueue_tracked(actor, business_id=busy.id, kwargs=kwargs)
    enqueue_tracked(actor, business_id=other.id, kwargs=kwargs)
    redis = runtime.redis
    assert redis.llen(runtime.keys("waiting", actor.actor_name, busy.id)) == 2
    assert redis.llen(runtime.keys("waiting", actor.actor_name, other.id)) == 0
    assert redis.llen(runtime.keys.queue(actor.queue_name)) == limit + 1


def test_per_business_limits_are_settings():
    settings = Settings(push_per_business=7, whatsapp_per_business=8, sessions_per_business=9,
                        diagnostics_per_business=10)
    assert [getattr(settings, TENANT_ACTORS[a][0]) for a in TENANT_ACTORS] == [7, 8, 9, 10]


@pytest.fixture
def limited_client(runtime):
    """The app with a tiny per-key budget: 3 requests, then one more every 100 s."""
    from web.app import create_app

    settings = Settings(api_rate_per_key=0.01, api_rate_burst=3)
    return testing.TestClient(create_app(Runtime(settings=settings, database=runtime.database, keys=runtime.keys)))


def test_an_api_key_past_its_rate_gets_429_with_retry_after(limited_client, make_business, admin_headers, runtime):
    busy, other = make_business("Busy"), make_business("Other")
    answers = [limited_client.simulate_get("/api/jobs", headers=busy.headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 100
    assert "requests a second" in answers[-1].json["description"]
    assert limited_client.simulate_get("/api/jobs", headers=other.headers).status_code == 200
    for _ in range(4):  # the operator is not counted
        assert limited_client.simulate_get("/api/jobs/health", headers=admin_headers).status_code == 200
    buckets = [k.decode() for k in runtime.redis.scan_iter(match=runtime.keys("ratelimit", "api", "*"))]
    assert len(buckets) >= 2 and not any(busy.api_key in k for k in buckets)


def test_the_diagnostics_ping_is_bounded(client, business, clean_queues):
    answer = client.simulate_post("/api/diagnostics/ping", json={"steps": 1000, "step_ms": 10_000},
                                  headers=business.headers)
    assert answer.status_code == 422, answer.text
    assert client.simulate_post("/api/diagnostics/ping", json={"steps": 6, "step_ms": 10_000},
                                headers=business.headers).status_code == 202
    with pytest.raises(BadInput):
        diagnostic_ping.fn(business_id=business.id, steps=1000, step_ms=10_000)
