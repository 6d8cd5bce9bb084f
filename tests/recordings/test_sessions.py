"""POST /api/sessions → 202; the session worker (3 retries at 5/10/20 s) with a speech-to-text provider configured."""
from __future__ import annotations

import datetime as dt

import pytest

from actors.sessions import process_audio_session
from tests.support.fake_twilio import make_mp3
from tests.support.processes import wait_for


def upload(client, business, data: bytes, content_type: str = "audio/mpeg", name: str = "file"):
    boundary = "prosaasboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"call.mp3\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.simulate_post("/api/sessions", body=body, headers={
        **business.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})


def session_of(client, business, session_id: str, *statuses: str, timeout: float = 60) -> dict:
    def done():
        view = client.simulate_get(f"/api/sessions/{session_id}", headers=business.headers).json
        return view if view["status"] in statuses else None
    return wait_for(done, timeout, interval=0.2, what=f"session {session_id} to be {'/'.join(statuses)}")


@pytest.fixture(scope="module")
def stt_worker(module_worker, fake_stt):
    return module_worker(queues="default", env={"TRANSCRIPTION_URL": fake_stt.base_url,
                                                "TRANSCRIPTION_API_KEY": fake_stt.api_key})


def test_the_session_actor_keeps_the_original_retry_schedule():
    assert process_audio_session.queue_name == "default"
    assert process_audio_session.options["max_retries"] == 3
    assert process_audio_session.options["min_backoff"] == 5_000  # 5 s, 10 s, 20 s
    assert process_audio_session.options["backoff_jitter"] is False


def _picked_at(log: str, session_id: str) -> list[dt.datetime]:
    """When the worker started each attempt, from its own SESSION_PICKED lines."""
    return [dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in log.splitlines()
            if "SESSION_PICKED" in line and f"session_id={session_id}" in line]


def test_three_failed_attempts_are_retried_at_5_10_and_20_seconds_without_jitter(client, business, fake_stt,
                                                                                 stt_worker):
    fake_stt.fail_first = len(fake_stt.requests) + 3  # the next three requests fail with 500
    session_id = upload(client, business, make_mp3(seconds=1)).json["session_id"]
    view = session_of(client, business, session_id, "completed", "failed", timeout=90)
    assert view["status"] == "completed" and view["attempts"] == 4, view
    picked = _picked_at(stt_worker.log(), session_id)
    assert len(picked) == 4
    intervals = [(later - earlier).total_seconds() for earlier, later in zip(picked, picked[1:])]
    # A behaviour check with a tolerance: Dramatiq's jitter would give 5-10, 10-20 and 20-40 s.
    assert all(abs(got - want) <= 1.0 for got, want in zip(intervals, (5, 10, 20))), intervals


def test_upload_is_processed_with_words_and_one_speaker(client, business, make_business, fake_stt, stt_worker):
    audio = make_mp3(seconds=2)
    accepted = upload(client, business, audio)
    assert accepted.status_code == 202, accepted.text
    session_id, job_id = accepted.json["session_id"], accepted.json["job_id"]
    view = session_of(client, business, session_id, "completed", "failed")
    assert view["status"] == "completed", view["error"]
    assert view["job_id"] == job_id and view["attempts"] == 1 and view["size_bytes"] == len(audio)
    result = view["result"]
    assert result["duration_s"] == 1.5 and result["speakers"] == 1 and result["provider"] == "openai_compatible"
    assert [w["word"] for w in result["words"]] == ["shalom", "this", "is", "a", "test"]
    assert result["segments"][0]["text"] == "shalom this is a test"
    sent = fake_stt.requests[-1]
    assert sent["model"] == ["whisper-1"] and sent["response_format"] == ["verbose_json"]
    assert sent["file"]["bytes"] == len(audio) and sent["file"]["content_type"] == "audio/mpeg"
    job = client.simulate_get(f"/api/jobs/{job_id}", headers=business.headers).json
    assert job["status"] == "completed" and job["type"] == "audio_session"
    assert client.simulate_get(f"/api/sessions/{session_id}", headers=make_business().headers).status_code == 404


def test_a_transient_provider_failure_is_retried_after_5_seconds(client, business, fake_stt, stt_worker):
    fake_stt.fail_first = len(fake_stt.requests) + 1  # the next request fails with 500
    session_id = upload(client, business, make_mp3(seconds=1)).json["session_id"]
    view = session_of(client, business, session_id, "completed", "failed", timeout=60)
    assert view["status"] == "completed" and view["attempts"] == 2
    assert "SESSION_RETRY" in stt_worker.log()


def test_audio_the_provider_refuses_fails_at_once_with_the_error(client, business, stt_worker, admin_headers):
    accepted = upload(client, business, b"ID3" + b"NOT-AUDIO" * 100)
    assert accepted.status_code == 202
    view = session_of(client, business, accepted.json["session_id"], "failed", "completed")
    assert view["status"] == "failed" and view["attempts"] == 1
    assert view["error"] == "TranscriptionRejected" and view["result"] is None  # the class: the text is for operators
    job = client.simulate_get(f"/api/jobs/{accepted.json['job_id']}", headers=business.headers).json
    assert job["status"] == "failed" and job["attempts"] == 1
    as_admin = client.simulate_get(f"/api/jobs/{accepted.json['job_id']}", headers=admin_headers).json
    assert "HTTP 400" in as_admin["error"]


def test_uploads_are_type_checked_and_size_limited(client, business, runtime):
    assert upload(client, business, b"hello", content_type="text/plain").status_code == 415
    assert upload(client, business, b"<html>not audio</html>", content_type="audio/mpeg").status_code == 415
    response = client.simulate_post("/api/sessions", json={"audio": "x"}, headers=business.headers)
    assert response.status_code == 415 and "audio" in response.json["description"]
    assert upload(client, business, make_mp3(0.2), name="other").status_code == 422
    too_big = b"ID3" + bytes(runtime.settings.max_body_bytes)
    assert upload(client, business, too_big).status_code == 413
    raw = client.simulate_post("/api/sessions", body=make_mp3(0.5),
                               headers={**business.headers, "Content-Type": "audio/mpeg"})
    assert raw.status_code == 202 and raw.json["session_id"]
    assert client.simulate_get("/api/sessions/nope", headers=business.headers).status_code == 404
