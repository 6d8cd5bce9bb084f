"""The guarded outbound client against real local servers: where it connects, redirects, caps."""
from __future__ import annotations

import pytest

from prosaas.clients import guarded_http
from prosaas.clients.guarded_http import AllowList, OutboundRefused, ResponseTooLarge
from prosaas.settings import Settings
from tests.security.spy_server import SpyServer


@pytest.fixture
def spies():
    servers = [SpyServer().start(), SpyServer().start()]
    yield servers
    for server in servers:
        server.stop()


def port_of(server: SpyServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_a_redirect_is_not_followed_when_the_caller_does_not_ask(spies):
    first, second = spies
    allow = AllowList.parse(f"{first.url},{second.url}", "PUSH_ENDPOINT_HOSTS")
    url = first.route("/push/a", 307, {"Location": f"{second.url}/push/b"})
    with guarded_http.request("POST", url, allow=allow, body=b"x", max_bytes=1024) as response:
        assert response.status == 307
    assert [r["path"] for r in first.requests] == ["/push/a"]
    assert second.connections == 0


def test_a_name_that_resolves_to_loopback_is_refused_unless_the_address_is_listed_literally(spies):
    spy = spies[0]
    by_name = AllowList.parse(f"http://localhost:{port_of(spy)}", "PUSH_ENDPOINT_HOSTS")
    with pytest.raises(OutboundRefused) as refused:
        guarded_http.request("GET", f"http://localhost:{port_of(spy)}/x", allow=by_name, max_bytes=1024)
    assert refused.value.why == "private_address"
    assert spy.connections == 0
    literally = AllowList.parse(spy.url, "PUSH_ENDPOINT_HOSTS")
    with guarded_http.request("GET", f"{spy.url}/x", allow=literally, max_bytes=1024) as response:
        assert response.status == 200 and response.read() == b"ok"


def test_the_host_is_the_one_the_client_connects_to_not_the_one_urlsplit_sees(spies):
    allowed, attacker = spies
    allow = AllowList.parse(allowed.url, "TWILIO_RECORDING_HOSTS")
    host_port = allowed.url.removeprefix("http://")
    for url in (f"http://{attacker.url.removeprefix('http://')}\\@{host_port}/x",   # urllib3 goes to attacker
                f"http://user:pw@{host_port}/x", f"http://{host_port}@127.0.0.1:{port_of(attacker)}/x",
                f"http://{host_port}:{port_of(attacker)}/x", f"ftp://{host_port}/x", f"http://{host_port}/a b"):
        with pytest.raises(OutboundRefused):
            guarded_http.request("GET", url, allow=allow, authorization="Basic c2VjcmV0", max_bytes=1024)
    assert allowed.connections == 0 and attacker.connections == 0


def test_the_byte_cap_stops_a_large_answer_with_or_without_content_length(spies):
    spy = spies[0]
    allow = AllowList.parse(spy.url, "TWILIO_RECORDING_HOSTS")
    endless = spy.stream("/big", 200 * 1024 * 1024)
    with guarded_http.request("GET", endless, allow=allow, max_bytes=256 * 1024) as response:
        with pytest.raises(ResponseTooLarge):
            for _chunk in response.iter_chunks():
                pass
        assert response.read_bytes <= 256 * 1024 + 1
    announced = spy.route("/announced", 200, {}, b"x" * 300_000)
    with guarded_http.request("GET", announced, allow=allow, max_bytes=1000) as response:
        with pytest.raises(ResponseTooLarge):
            response.read()
        assert response.read_bytes == 0


def test_allow_list_entries_and_the_default_push_services():
    default = Settings.model_fields["push_endpoint_hosts"].default
    allow = AllowList.parse(default, "PUSH_ENDPOINT_HOSTS")
    assert allow.check("https://fcm.googleapis.com/fcm/send/abc").host == "fcm.googleapis.com"
    assert allow.check("https://updates.push.services.mozilla.com/wpush/v2/x").port == 443
    assert allow.check("https://wns2-par02p.notify.windows.com/w/?token=x")
    for refused in ("http://fcm.googleapis.com/x", "https://fcm.googleapis.com:8443/x",
                    "https://push.services.mozilla.com/x", "https://evilfcm.googleapis.com.example/x",
                    "https://169.254.169.254/latest/meta-data/", "http://127.0.0.1:6379/"):
        with pytest.raises(OutboundRefused):
            allow.check(refused)
    ported = AllowList.parse("api.twilio.com,media.example.com:8443", "TWILIO_RECORDING_HOSTS")
    assert ported.check("https://media.example.com:8443/a").port == 8443
    with pytest.raises(OutboundRefused):
        ported.check("https://api.twilio.com:8443/a")
    for bad in ("http://", "a b", "host:port", "https://h/path"):
        with pytest.raises(ValueError, match="TWILIO_RECORDING_HOSTS"):
            AllowList.parse(bad, "TWILIO_RECORDING_HOSTS")
