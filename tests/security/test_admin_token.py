"""The admin token: long or no start, guesses rate-limited on every door, the real client address, server-side
dashboard sessions revoked at logout.

The app is the real one (Falcon's testing client, real Redis and PostgreSQL); the start check runs the real CLI.
"""
from __future__ import annotations

import pytest
from falcon import testing

from tests.support.processes import run_cli

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BROWSER = {"Accept": "text/html"}


@pytest.mark.parametrize("role", ["web", "worker", "scheduler", "doctor"])
def test_a_short_admin_token_stops_every_role_with_one_line_naming_it(role):
    done = run_cli(role, env={"ADMIN_TOKEN": "x" * 31}, timeout=60)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "ADMIN_TOKEN" in lines[0], done.stderr
    assert "x" * 31 not in done.stderr  # the value itself is never printed


def _login(client, token, address):
    return client.simulate_post("/dashboard/login", body=f"token={token}", headers=FORM, remote_addr=address)


def test_wrong_bearer_tokens_are_rate_limited_like_logins_and_never_the_right_one(client, test_env, business):
    attacker = "198.51.100.20"
    admin = {"Authorization": f"Bearer {test_env['ADMIN_TOKEN']}"}
    for n in range(10):
        door = ("/api/admin/overview", "/metrics", "/api/jobs", "/api/diagnostics/ping")[n % 4]
        wrong = client.simulate_get(door, headers={"Authorization": f"Bearer guess-{n}"}, remote_addr=attacker)
        assert wrong.status_code in (401, 405), (door, wrong.status_code)
    for door in ("/api/admin/overview", "/api/jobs", "/dashboard"):
        locked = client.simulate_get(door, headers={"Authorization": "Bearer guess-again", **BROWSER},
                                     remote_addr=attacker)
        assert locked.status_code == 429, (door, locked.status_code)
        assert locked.headers["retry-after"] == "300"
    assert _login(client, "guess", attacker).status_code == 429  # one counter for every door
    # The right token, and a known business key, still work from the locked address.
    assert client.simulate_get("/api/admin/overview", headers=admin, remote_addr=attacker).status_code == 200
    assert client.simulate_get("/api/jobs", headers=business.headers, remote_addr=attacker).status_code == 200
    assert _login(client, test_env["ADMIN_TOKEN"], attacker).status_code == 303


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(client, runtime):
    attacker = "198.51.100.30"
    for n in range(10):  # a new X-Forwarded-For per guess does not make a new address
        client.simulate_get("/api/admin/overview", remote_addr=attacker,
                            headers={"Authorization": f"Bearer guess-{n}", "X-Forwarded-For": f"10.9.9.{n}"})
    locked = client.simulate_get("/api/admin/overview", remote_addr=attacker,
                                 headers={"Authorization": "Bearer guess", "X-Forwarded-For": "10.9.9.200"})
    assert locked.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(runtime, test_env):
    from prosaas.runtime import Runtime
    from web.app import create_app

    settings = runtime.settings.model_copy(update={"trusted_proxies": "192.0.2.1, 192.0.2.0/30"})
    proxied = testing.TestClient(create_app(Runtime(settings=settings, database=runtime.database, keys=runtime.keys)))
    proxy, client_a, client_b = "192.0.2.1", "203.0.113.50", "203.0.113.51"
    for n in range(10):
        assert proxied.simulate_get("/api/admin/overview", remote_addr=proxy, headers={
            "Authorization": f"Bearer guess-{n}",
            "X-Forwarded-For": f"1.2.3.4, {client_a}, 192.0.2.2"}).status_code == 401
    guess = {"Authorization": "Bearer guess"}
    assert proxied.simulate_get("/api/admin/overview", remote_addr=proxy,
                                headers={**guess, "X-Forwarded-For": client_a}).status_code == 429
    # Another client behind the same proxy is not locked out by the first one's guesses.
    assert proxied.simulate_get("/api/admin/overview", remote_addr=proxy,
                                headers={**guess, "X-Forwarded-For": client_b}).status_code == 401


def test_dashboard_sessions_are_random_server_side_and_revoked_at_logout(client, test_env, runtime):
    first = _login(client, test_env["ADMIN_TOKEN"], "192.0.2.77").cookies["prosaas_admin"].value
    second = _login(client, test_env["ADMIN_TOKEN"], "192.0.2.77").cookies["prosaas_admin"].value
    assert first != second and len(first) >= 40  # random, not derived from the token
    jar = {"prosaas_admin": first}
    assert client.simulate_get("/api/admin/overview", cookies=jar).status_code == 200
    stored = list(runtime.redis.scan_iter(match=runtime.keys("dashboard", "session", "*")))
    assert stored and all(runtime.redis.ttl(key) > 0 for key in stored)
    assert not any(first.encode() in key for key in stored)  # only a hash of the id is kept
    assert client.simulate_post("/dashboard/logout", cookies=jar).status_code == 303
    # The copied cookie no longer opens anything after logout; the other session still does.
    assert client.simulate_get("/api/admin/overview", cookies=jar).status_code == 401
    assert client.simulate_get("/dashboard", cookies=jar, headers=BROWSER).status_code == 303
    assert client.simulate_get("/api/admin/overview", cookies={"prosaas_admin": second}).status_code == 200
    forged = {"prosaas_admin": "x" * 43}
    assert client.simulate_get("/api/admin/overview", cookies=forged).status_code == 401
