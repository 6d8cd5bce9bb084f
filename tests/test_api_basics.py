"""The HTTP edge: auth, JSON errors with the right status, body limits, readiness, OpenAPI."""


def _is_error(response, status: int):
    assert response.status_code == status, response.text
    body = response.json
    assert set(body) >= {"title", "description"} and body["description"], body


def test_health_endpoints(client):
    assert client.simulate_get("/healthz").json == {"status": "alive"}
    ready = client.simulate_get("/readyz")
    assert ready.status_code == 200 and ready.json["ready"] is True


def test_openapi_is_generated_from_the_validating_declarations(client):
    spec = client.simulate_get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    ping = spec["paths"]["/api/diagnostics/ping"]["post"]
    assert "requestBody" in ping and "202" in ping["responses"]


def test_auth_errors(client, business, admin_headers):
    _is_error(client.simulate_get("/api/jobs"), 401)
    _is_error(client.simulate_get("/api/jobs", headers={"Authorization": "Bearer nope"}), 401)
    assert client.simulate_get("/api/jobs", headers=business.headers).status_code == 200
    _is_error(client.simulate_get("/api/jobs/health", headers=business.headers), 403)
    assert client.simulate_get("/api/jobs/health", headers=admin_headers).status_code == 200
    _is_error(client.simulate_post("/api/diagnostics/ping", json={}, headers=admin_headers), 403)


def test_validation_and_http_errors(client, business):
    headers = business.headers
    _is_error(client.simulate_get("/no/such/thing", headers=headers), 404)
    _is_error(client.simulate_get("/api/jobs/does-not-exist", headers=headers), 404)
    _is_error(client.simulate_delete("/api/jobs", headers=headers), 405)
    _is_error(client.simulate_post("/api/diagnostics/ping", json={"steps": -1}, headers=headers), 422)
    _is_error(client.simulate_post("/api/diagnostics/ping", body="steps=1",
                                   headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}), 415)
    _is_error(client.simulate_post("/api/diagnostics/ping", body="{not json",
                                   headers={**headers, "Content-Type": "application/json"}), 400)
    _is_error(client.simulate_get("/api/jobs?limit=100000", headers=headers), 422)


def test_oversized_body_is_refused_before_reading(client, business, runtime):
    too_big = runtime.settings.max_body_bytes + 1
    response = client.simulate_post("/api/diagnostics/ping", body=b"x" * too_big,
                                    headers={**business.headers, "Content-Type": "application/json"})
    _is_error(response, 413)


def test_bad_input_never_enqueues(client, business, runtime, clean_queues):
    from prosaas.queue_stats import queue_counts

    client.simulate_post("/api/diagnostics/ping", json={"steps": "many"}, headers=business.headers)
    assert queue_counts(runtime)["default"]["ready"] == 0
    answer = client.simulate_post("/api/diagnostics/ping", json={"steps": 1}, headers=business.headers)
    assert answer.status_code == 202 and answer.json == {"job_id": answer.json["job_id"], "status": "queued"}
    assert answer.headers["content-type"] == "application/json" and answer.json["job_id"]
    assert queue_counts(runtime)["default"]["ready"] == 1
    job = client.simulate_get(f"/api/jobs/{answer.json['job_id']}", headers=business.headers).json
    assert job["status"] == "queued" and job["type"] == "diagnostic"
