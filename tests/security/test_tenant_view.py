"""Tenants see reason codes and error classes; operators see the whole error. /readyz tells the public only ok/unavailable.

The job's failure is written through the job store (as a worker would write it); the answers come from the real app.
"""
from __future__ import annotations

import json

from falcon import testing

from db import job_store
from db.models.core import JobStatus
from prosaas.settings import Settings
from tests.support.processes import free_port

INTERNAL = "ConnectionError: HTTPConnectionPool(host='10.1.2.3', port=6380): Max retries exceeded with url: /internal"


def _failed_job(client, runtime, business) -> str:
    job_id = client.simulate_post("/api/diagnostics/ping", headers=business.headers, json={}).json["job_id"]
    with runtime.database.session() as session:
        assert job_store.finish_job(session, job_id, status=JobStatus.FAILED, error=INTERNAL, reason="ConnectionError")
    return job_id


def test_a_business_sees_the_reason_and_class_an_operator_the_detail(client, runtime, business, admin_headers,
                                                                   clean_queues):
    job_id = _failed_job(client, runtime, business)
    for answer in (client.simulate_get(f"/api/jobs/{job_id}", headers=business.headers),
                   client.simulate_get("/api/jobs", headers=business.headers)):
        assert answer.status_code == 200
        assert "10.1.2.3" not in answer.text and "6380" not in answer.text and "/internal" not in answer.text
    job = client.simulate_get(f"/api/jobs/{job_id}", headers=business.headers).json
    assert job["error_class"] == "ConnectionError" and job["error_reason"] == "ConnectionError"
    assert job["error"] == "ConnectionError"
    retried = client.simulate_post(f"/api/jobs/{job_id}/retry", headers=business.headers)
    assert "10.1.2.3" not in retried.text

    as_admin = client.simulate_get(f"/api/jobs/{job_id}", headers=admin_headers).json
    assert as_admin["error"] == INTERNAL or as_admin["status"] == "queued"
    overview = client.simulate_get("/api/admin/overview", headers=admin_headers)
    assert overview.status_code == 200


def test_an_operator_sees_the_full_error(client, runtime, business, admin_headers, clean_queues):
    job_id = _failed_job(client, runtime, business)
    as_admin = client.simulate_get(f"/api/jobs/{job_id}", headers=admin_headers).json
    assert as_admin["error"] == INTERNAL and as_admin["error_class"] == "ConnectionError"


def _unreachable_app(test_env):
    from db import Database
    from prosaas.redis_protocol import Keys
    from prosaas.runtime import Runtime
    from web.app import create_app

    database_url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    settings = Settings(database_url=database_url, redis_url=f"redis://127.0.0.1:{free_port()}/0",
                        admin_token=test_env["ADMIN_TOKEN"])
    runtime = Runtime(settings=settings, database=Database(database_url), keys=Keys("prosaas-t-unreachable"))
    return testing.TestClient(create_app(runtime))


def test_public_readyz_says_only_ok_or_unavailable(test_env):
    client = _unreachable_app(test_env)
    public = client.simulate_get("/readyz")
    assert public.status_code == 503
    assert public.json == {"ready": False, "database": "unavailable", "broker": "unavailable"}
    assert "127.0.0.1" not in public.text

    admin = client.simulate_get("/readyz", headers={"Authorization": f"Bearer {test_env['ADMIN_TOKEN']}"})
    assert admin.status_code == 503
    assert "127.0.0.1" in json.dumps(admin.json)  # the operator gets the detail to act on


def test_public_readyz_when_ready(client):
    assert client.simulate_get("/readyz").json == {"ready": True, "database": "ok", "broker": "ok"}
