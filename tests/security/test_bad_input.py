"""Bad input gets 4xx, never 500: control characters, deep JSON, odd bodies and headers, huge ids, non-ASCII digits.

Driven through the real app (Falcon's testing client) on the run's real database and Redis.
"""
from __future__ import annotations

import json
import secrets

import pytest

from db import job_store
from db import recordings_store
from prosaas.clients import recording_files


def _jobs_of(runtime, business_id: int) -> int:
    with runtime.database.session() as session:
        return len(job_store.list_jobs(session, business_id=business_id, limit=500))


@pytest.mark.parametrize("path", ["/api/jobs/abc%00", "/api/jobs/abc%01def", "/api/reminders/x%7f",
                                  "/api/jobs/abc%0Aline"])
def test_control_characters_in_the_path_are_422(client, business, path):
    result = client.simulate_get(path, headers=business.headers)
    assert result.status_code == 422, result.text
    assert "control character" in result.json["description"]


@pytest.mark.parametrize("query", ["type=%00", "type=a%1bb", "user_id=%00", "ty%00pe=x"])
def test_control_characters_in_the_query_are_422(client, business, query):
    path = "/api/reminders" if "user_id" in query else "/api/jobs"
    result = client.simulate_get(path, query_string=query, headers=business.headers)
    assert result.status_code == 422, result.text


@pytest.mark.parametrize("path,body", [
    ("/api/reminders", {"user_id": "u1", "due_at": "2099-01-01T10:00:00+00:00", "text": "call\x00back"}),
    ("/api/reminders", {"user_id": "u\x00", "due_at": "2099-01-01T10:00:00+00:00", "text": "x"}),
    ("/api/broadcasts", {"message": "hello\x00", "recipients": ["+972501234567"]}),
    ("/api/notifications", {"user_id": "u1", "title": "t\x07", "body": "b"}),
    ("/api/notifications", {"user_id": "u1", "title": "t", "body": "b", "data": {"k\x00": "v"}}),
    ("/api/diagnostics/ping", {"steps": 1, "extra": ["\x00"]}),
])
def test_control_characters_in_json_bodies_are_422_and_enqueue_nothing(client, business, runtime, path, body,
                                                                       clean_queues):
    result = client.simulate_post(path, headers=business.headers, json=body)
    assert result.status_code == 422, result.text
    assert "control character" in result.json["description"]
    assert _jobs_of(runtime, business.id) == 0


def test_text_may_hold_newlines_and_tabs(client, business):
    body = {"user_id": "u1", "due_at": "2099-01-01T10:00:00+00:00", "text": "line one\n\tline two\r\n"}
    result = client.simulate_post("/api/reminders", headers=business.headers, json=body)
    assert result.status_code == 201, result.text


def test_json_nested_50000_deep_is_4xx(client, business):
    body = "[" * 50_000 + "]" * 50_000
    result = client.simulate_post("/api/diagnostics/ping", headers={**business.headers,
                                                                    "Content-Type": "application/json"}, body=body)
    assert result.status_code == 422, result.text
    assert "nest" in result.json["description"]


def test_json_nested_a_little_too_deep_is_422(client, business):
    body = {"user_id": "u1", "title": "t", "body": "b", "data": {}}
    node = body["data"]
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    result = client.simulate_post("/api/notifications", headers=business.headers, json=body)
    assert result.status_code == 422, result.text


@pytest.mark.parametrize("body", ["[1, 2]", '"token"', "3", "null"])
def test_dashboard_login_with_a_json_non_object_is_4xx(client, body):
    result = client.simulate_post("/dashboard/login", headers={"Content-Type": "application/json"}, body=body)
    assert 400 <= result.status_code < 500, result.text


def test_dashboard_static_with_nul_is_4xx(client):
    result = client.simulate_get("/dashboard/static/x%00.css")
    assert 400 <= result.status_code < 500, result.text


@pytest.fixture
def local_recording(runtime, business):
    call_sid, recording_sid = "CA" + secrets.token_hex(16), "RE" + secrets.token_hex(16)
    name = f"{recording_sid}.mp3"
    relative = recording_files.relative_path(business.id, name)
    file = recording_files.stored_file(business.id, name)
    size = recording_files.from_settings(runtime.settings).write_atomically(file, [b"ID3" + b"\x00" * 997])
    with runtime.database.session() as session:
        recordings_store.record_recording(session, business_id=business.id, call_sid=call_sid,
                                          recording_sid=recording_sid, recording_url="https://api.twilio.com/x",
                                          duration_s=1, channels=1)
        recordings_store.mark_downloaded(session, recording_sid, file_path=relative, size_bytes=size,
                                         duration_s=1.0, download_ms=1)
    return call_sid


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000,
                                    "bytes=0-" + "9" * 5000])
def test_range_with_5000_digits_is_416(client, business, local_recording, header):
    result = client.simulate_get(f"/api/calls/{local_recording}/recording",
                                 headers={**business.headers, "Range": header})
    assert result.status_code == 416, result.text


def test_a_plain_range_still_works(client, business, local_recording):
    result = client.simulate_get(f"/api/calls/{local_recording}/recording",
                                 headers={**business.headers, "Range": "bytes=0-9"})
    assert result.status_code == 206
    assert len(result.content) == 10


@pytest.mark.parametrize("ids", [[2 ** 63], [2 ** 64 + 5], [1, 10 ** 30], [0], [-3]])
def test_ids_beyond_64_bits_are_422_before_anything_is_enqueued(client, business, runtime, ids, clean_queues):
    result = client.simulate_post("/api/receipts/delete", headers=business.headers, json={"ids": ids})
    assert result.status_code == 422, result.text
    assert _jobs_of(runtime, business.id) == 0


def test_a_huge_business_id_in_a_signed_webhook_is_422(client, test_env):
    from web.resources.whatsapp import signature_for

    body = json.dumps({"business_id": 2 ** 70, "messages": []}).encode()
    result = client.simulate_post("/whatsapp/webhook", body=body, headers={
        "Content-Type": "application/json",
        "X-Signature": signature_for(test_env["WHATSAPP_WEBHOOK_SECRET"], body)})
    assert result.status_code == 422, result.text


@pytest.mark.parametrize("phone", ["+9\u0667\u0662501234567", "+\uff19\uff17\uff12501234567",
                                   "+972\u00a0501234567"])
def test_phone_numbers_accept_ascii_digits_only(client, business, phone, runtime, clean_queues):
    result = client.simulate_post("/api/broadcasts", headers=business.headers,
                                  json={"message": "hi", "recipients": [phone]})
    assert result.status_code == 422, result.text
    assert _jobs_of(runtime, business.id) == 0
