"""Slow and oversized bodies: a body must arrive within BODY_READ_TIMEOUT_SECONDS (408, then the connection is
closed), and a signed webhook never reads more than its own limit before checking the signature.

The slow body is sent to a real `prosaas web` (gunicorn, gevent workers) over a raw socket.
"""
from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from tests.support.processes import start_web

GENEROUS_SECONDS = 60  # only a bound for a hung test, never a measured expectation


@pytest.fixture
def slow_web(tmp_logs):
    role, base = start_web(tmp_logs, env={"BODY_READ_TIMEOUT_SECONDS": "1"})
    yield role, urlsplit(base)
    role.stop()


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def test_a_body_that_stalls_gets_408_and_the_connection_is_closed(slow_web, business):
    role, base = slow_web
    with socket.create_connection((base.hostname, base.port), timeout=GENEROUS_SECONDS) as sock:
        sock.sendall(b"POST /api/diagnostics/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + business.api_key.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"st")
        answer = _read_until_closed(sock)  # the server must close: recv() returns b"" instead of hanging
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"connection: close" in head.lower()
    assert json.loads(body)["title"]
    assert "HTTP_BODY_TIMEOUT" in role.log()


def test_a_body_that_arrives_in_time_is_served(slow_web, business):
    _role, base = slow_web
    payload = b'{"steps": 0}'
    with socket.create_connection((base.hostname, base.port), timeout=GENEROUS_SECONDS) as sock:
        sock.sendall(b"POST /api/diagnostics/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nAuthorization: Bearer " + business.api_key.encode()
                     + b"\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 202"), answer[:300]


def test_the_whatsapp_webhook_refuses_a_body_over_its_own_limit_before_reading_it(client, test_env):
    from web.resources.whatsapp import WhatsAppWebhook, signature_for

    limit = WhatsAppWebhook.max_body_bytes
    body = json.dumps({"business_id": 1, "messages": [], "pad": "x" * limit}).encode()
    result = client.simulate_post("/whatsapp/webhook", body=body, headers={
        "Content-Type": "application/json", "X-Signature": signature_for(test_env["WHATSAPP_WEBHOOK_SECRET"], body)})
    assert result.status_code == 413, result.text


def test_the_twilio_callback_refuses_a_body_over_its_own_limit(client):
    result = client.simulate_post("/twilio/recording-status", query_string="business_id=1",
                                  body="a=" + "x" * (64 * 1024),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert result.status_code == 413, result.text
