"""GET|HEAD /api/calls/{sid}/recording: priority download (202), then audio with Range; stuck → bounded, then 503."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

import pytest
import requests
from falcon import testing

from tests.recordings.helpers import jobs_of_type, recording_row, wait_recording
from tests.support.fake_twilio import callback_path, make_mp3, post_callback
from tests.support.processes import start_web, wait_for
from web.resources.recordings import parse_range

PUBLIC_BASE = "https://calls.example.com"


def test_public_base_url_signature_and_a_stuck_download_ends_in_503_naming_the_queue(
        business, fake_twilio, tmp_logs, clean_queues):
    role, base = start_web(tmp_logs, env={"PUBLIC_BASE_URL": PUBLIC_BASE, "RECORDING_STUCK_AFTER_SECONDS": "1"})
    try:
        sid = fake_twilio.add(business.id)
        form = fake_twilio.callback_form(sid)
        path = callback_path(business.id)
        post = lambda url: requests.post(base + path, data=urlencode(form), timeout=10, headers={  # noqa: E731
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": fake_twilio.sign(url, form)})
        assert post(base + path).status_code == 403  # signed for the internal URL, not the public one
        assert post(PUBLIC_BASE + path).status_code == 204

        url = f"{base}/api/calls/{form['CallSid']}/recording"
        first = requests.get(url, headers=business.headers, timeout=10)
        assert first.status_code == 202 and first.headers["Retry-After"]
        assert requests.get(url, headers=business.headers, timeout=10).json()["job_id"] == first.json()["job_id"]
        job_ids = [first.json()["job_id"]]
        answer = first
        for _ in range(6):  # no worker consumes `high`: re-enqueued twice, then 503, never a loop
            time.sleep(1.3)
            answer = requests.get(url, headers=business.headers, timeout=10)
            if answer.status_code != 202:
                break
            job_ids.append(answer.json()["job_id"])
        assert answer.status_code == 503, answer.text
        assert "'high'" in answer.json()["description"]
        assert len(set(job_ids)) == 3
        priority = [j for j in jobs_of_type(business.id, "recording_download") if j.queue == "high"]
        assert len(priority) == 3
        assert "RECORDING_PLAYBACK_STUCK" in role.log()
    finally:
        role.stop()


def test_recording_not_local_gets_one_priority_download_then_plays_with_ranges(
        app, client, business, make_business, fake_twilio, module_worker):
    body = make_mp3(seconds=2, pitch=180)
    sid = fake_twilio.add(business.id, body=body)
    form = fake_twilio.callback_form(sid)
    assert post_callback(client, fake_twilio, business.id, form).status_code == 204
    url = f"/api/calls/{form['CallSid']}/recording"

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(
        testing.TestClient(app).simulate_get(url, headers=business.headers))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {202}
    assert all(a.headers["Retry-After"] for a in answers)
    again = client.simulate_get(url, headers=business.headers)
    assert again.status_code == 202 and again.json["status"] == "queued"
    priority = [j for j in jobs_of_type(business.id, "recording_download") if j.queue == "high"]
    assert [j.id for j in priority] == [again.json["job_id"]]  # one priority download, never a second

    module_worker(queues="high,low")  # nobody consumes `recordings`: only the priority path can deliver it
    wait_recording(sid, "ready", timeout=60)
    full = client.simulate_get(url, headers=business.headers)
    assert full.status_code == 200 and full.headers["content-type"] == "audio/mpeg"
    assert full.content == body and full.headers["accept-ranges"] == "bytes"

    part = client.simulate_get(url, headers={**business.headers, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == body[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(body)}"
    tail = client.simulate_get(url, headers={**business.headers, "Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == body[-50:]
    open_ended = client.simulate_get(url, headers={**business.headers, "Range": f"bytes={len(body) - 10}-"})
    assert open_ended.status_code == 206 and open_ended.content == body[-10:]
    beyond = client.simulate_get(url, headers={**business.headers, "Range": f"bytes={len(body)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(body)}"
    head = client.simulate_head(url, headers=business.headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(body)) and head.content == b""

    other = make_business("Other")
    assert client.simulate_get(url, headers=other.headers).status_code == 404
    assert client.simulate_head(url, headers=other.headers).status_code == 404
    assert recording_row(sid).download_job_id  # the callback's job still waits on `recordings`
    call = client.simulate_get(f"/api/calls/{form['CallSid']}", headers=business.headers).json
    assert call["recording"]["status"] == "ready"
    wait_for(lambda: client.simulate_get(f"/api/calls/{form['CallSid']}", headers=business.headers)
             .json["transcript"]["status"] == "completed", 60, what="transcript")


@pytest.mark.parametrize("header,expected", [
    (None, None), ("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)), ("bytes=-500", (0, 99)),
    ("bytes=90-200", (90, 99)), ("bytes=100-", "unsatisfiable"), ("bytes=-0", "unsatisfiable"),
    ("bytes=9-3", "unsatisfiable"), ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=-", None),
])
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected
