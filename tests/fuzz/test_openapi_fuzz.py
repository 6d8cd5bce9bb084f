"""Bad input: fuzz every operation of /openapi.json (schemathesis, in-process WSGI app, bounded examples).

Business operations are called with a business's key, admin operations with the admin token. Checks: never a
5xx, responses conform to the schema. Plus explicit checks of the edges: 413, 401/403, another business's 404.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

MAX_EXAMPLES = 12
# Routes that are not JSON APIs or that stream: fuzzed by their own tests, not here.
SKIPPED_PATHS = ("/metrics",)


@pytest.fixture(scope="module")
def fuzz_business(app):
    from db.businesses import create_business
    from prosaas.runtime import get_runtime

    with get_runtime().database.session() as session:
        business, key = create_business(session, "Fuzz business", "UTC")
        return business.id, key


def _app():
    # Built at import (collection) time, after conftest has set the run's environment.
    import tests.support.sample_actors  # noqa: F401
    from web.app import create_app

    return create_app()


schema = schemathesis.openapi.from_wsgi("/openapi.json", _app())
# Generated strings may hold NUL and any Unicode character (non-ASCII digits included).
schema.config.generation.update(allow_x00=True, codec="utf-8")
# Added to every string of a second, hostile request per example: NUL, C1 control, Arabic-Indic digit, é.
HOSTILE_SUFFIXES = ("\x00", "\u0085\u0661", "\u00e9\x7f")


def _resource_auth(operation) -> str:
    sample = "/".join("1" if part.startswith("{") else part for part in operation.path.split("/"))
    match = schema.app._router.find(sample)
    return getattr(match[0], "auth", "business") if match else "business"


def _headers_for(caller: str, business_key: str, admin_token: str) -> dict:
    return {"Authorization": f"Bearer {admin_token if caller == 'admin' else business_key}"}


def _poisoned(value, index=0):
    """A copy of a request part with a hostile suffix on every string (keys left alone)."""
    if isinstance(value, str):
        return value + HOSTILE_SUFFIXES[index % len(HOSTILE_SUFFIXES)]
    if isinstance(value, dict):
        return {key: _poisoned(item, index + n) for n, (key, item) in enumerate(value.items())}
    if isinstance(value, list):
        return [_poisoned(item, index + n) for n, item in enumerate(value)]
    return value


@pytest.mark.parametrize("caller", ["business", "admin"])
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_survives_fuzzing(case, caller, fuzz_business, test_env, clean_queues):
    if case.operation.path.startswith(SKIPPED_PATHS):
        pytest.skip("not a JSON API operation")
    allowed = {"business": ("business", "business_or_admin", "public", "signed"),
               "admin": ("admin", "business_or_admin")}[caller]
    if _resource_auth(case.operation) not in allowed:
        pytest.skip(f"not an operation a {caller} calls")
    _business_id, key = fuzz_business
    headers = _headers_for(caller, key, test_env["ADMIN_TOKEN"])
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                             content_type_conformance])
    hostile = case.derive(query=_poisoned(case.query))
    hostile.path_parameters = _poisoned(case.path_parameters)
    hostile.body = _poisoned(case.body)
    response = hostile.call(headers=headers)
    hostile.validate_response(response, checks=[not_a_server_error])
    poisoned_text = (hostile.query, hostile.path_parameters) != (case.query, case.path_parameters) or (
        hostile.body != case.body and "multipart" not in (case.media_type or ""))
    if poisoned_text and case.method.upper() == case.operation.method.upper():  # a control character in any string must be refused, whatever else is wrong
        assert response.status_code >= 400, f"{case.method} {case.path}: hostile strings got {response.status_code}"


# Explicit edges ---------------------------------------------------------------------------------------------
def _routes(app):
    """(path template, resource, methods) for every route of the app, found through Falcon's router."""
    from falcon import inspect

    found = []
    for route in inspect.inspect_routes(app):
        sample = route.path
        for part in sample.split("/"):
            if part.startswith("{") and part.endswith("}"):
                sample = sample.replace(part, "1", 1)
        match = app._router.find(sample)
        if match is None:
            continue
        resource = match[0]
        methods = [m.method for m in route.methods if not m.internal]
        found.append((route.path, sample, resource, methods))
    return found


def test_every_protected_route_refuses_a_missing_or_wrong_key(client, app):
    checked = 0
    for template, sample, resource, methods in _routes(app):
        mode = getattr(resource, "auth", "business")
        if mode not in ("business", "admin", "business_or_admin"):
            continue
        for method in methods:
            for headers in ({}, {"Authorization": "Bearer psk_wrong_key"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
                # One guess per address: past ten from one address, guesses get 429 (tests/security).
                result = client.simulate_request(method, sample, headers=headers,
                                                 remote_addr=f"198.18.{checked // 250}.{checked % 250 + 1}")
                assert result.status_code == 401, f"{method} {template} with {headers or 'no key'}: {result.status}"
                checked += 1
    print(f"FUZZ_AUTH checked={checked} requests: all 401")
    assert checked


def test_business_key_on_admin_routes_is_403(client, app, business):
    checked = 0
    for template, sample, resource, methods in _routes(app):
        if getattr(resource, "auth", "business") != "admin":
            continue
        for method in methods:
            result = client.simulate_request(method, sample, headers=business.headers)
            assert result.status_code == 403, f"{method} {template}: {result.status}"
            checked += 1
    assert checked


def test_signed_routes_refuse_missing_and_wrong_signatures(client, app):
    checked = 0
    for template, sample, resource, methods in _routes(app):
        if getattr(resource, "auth", None) != "signed":
            continue
        for method in methods:
            if method in ("GET", "HEAD", "OPTIONS"):
                continue
            for signature in ({}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl", "X-Hub-Signature-256": "sha256=00",
                                   "X-Signature": "00"}):
                for content_type, body in (("application/x-www-form-urlencoded", "a=1"), ("application/json", "{}")):
                    result = client.simulate_request(method, sample, body=body,
                                                     headers={**signature, "Content-Type": content_type})
                    if result.status_code != 415:  # the endpoint takes the other kind of body
                        break
                assert result.status_code in (401, 403), f"{method} {template} {signature}: {result.status}"
                checked += 1
    print(f"FUZZ_SIGNED checked={checked} requests: all 401/403")


def test_oversized_body_is_413_before_it_is_read(client, business, runtime):
    limit = runtime.settings.max_body_bytes
    result = client.simulate_post("/api/diagnostics/ping", headers={**business.headers,
                                                                    "Content-Type": "application/json"},
                                  body=b"{" + b" " * limit + b"}")
    assert result.status_code == 413
    assert result.json["title"]


def test_another_business_job_is_404_everywhere(client, make_business, clean_queues):
    owner, stranger = make_business("Owner"), make_business("Stranger")
    created = client.simulate_post("/api/diagnostics/ping", headers=owner.headers, json={})
    assert created.status_code == 202
    job_id = created.json["job_id"]
    assert client.simulate_get(f"/api/jobs/{job_id}", headers=owner.headers).status_code == 200
    assert client.simulate_get(f"/api/jobs/{job_id}", headers=stranger.headers).status_code == 404
    for action in ("pause", "resume", "cancel", "retry"):
        result = client.simulate_post(f"/api/jobs/{job_id}/{action}", headers=stranger.headers)
        assert result.status_code == 404, f"{action}: {result.status}"
    listed = client.simulate_get("/api/jobs", headers=stranger.headers).json["jobs"]
    assert job_id not in [job["id"] for job in listed]
