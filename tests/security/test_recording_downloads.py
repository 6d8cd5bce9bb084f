"""Twilio recording downloads: the account's Basic auth reaches only the checked host, and size is capped."""
from __future__ import annotations

import base64

import pytest

from prosaas.clients import recording_files, twilio_recordings
from prosaas.clients.recording_files import stored_file
from prosaas.clients.twilio_recordings import RecordingHostRefused
from tests.recordings.helpers import wait_job, wait_recording
from tests.security.spy_server import SpyServer
from tests.support.fake_twilio import FakeTwilio, fixed_port, post_callback


@pytest.fixture
def allowed_and_other():
    """Two spies on the two origins TWILIO_RECORDING_HOSTS lists for the run (same host, other port)."""
    servers = [SpyServer(port=fixed_port(0)).start(), SpyServer(port=fixed_port(1)).start()]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def downloader(runtime):
    """The download client as the worker builds it: TWILIO_RECORDING_HOSTS, the account, RECORDING_MAX_BYTES."""
    return twilio_recordings.from_settings(runtime.settings, recording_files.from_settings(runtime.settings))


@pytest.fixture
def attacker():
    with SpyServer() as server:
        yield server


def basic_auth(test_env) -> str:
    pair = f"{test_env['TWILIO_ACCOUNT_SID']}:{test_env['TWILIO_AUTH_TOKEN']}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def test_backslash_and_userinfo_urls_never_reach_another_host(allowed_and_other, attacker, downloader, tmp_path):
    allowed = allowed_and_other[0].url.removeprefix("http://")
    evil = attacker.url.removeprefix("http://")
    for url in (f"http://{evil}\\@{allowed}/2010-04-01/Recordings/RE1",     # requests connects to `evil`
                f"http://{evil}@{allowed}/2010-04-01/Recordings/RE1",
                f"http://{allowed}\\@{evil}/2010-04-01/Recordings/RE1"):
        with pytest.raises(RecordingHostRefused):
            downloader.download(url, stored_file(1, "r.mp3"))
    assert attacker.connections == 0 and allowed_and_other[0].connections == 0
    assert downloader.files.existing_size(stored_file(1, "r.mp3")) is None


def test_a_redirect_to_another_port_or_host_never_gets_the_credentials(allowed_and_other, attacker, downloader,
                                                                       tmp_path, test_env):
    twilio, other_port = allowed_and_other
    other_port.route("/media/RE2.mp3", 200, {"Content-Type": "audio/mpeg"}, b"ID3-audio")
    twilio.route("/Recordings/RE2.mp3", 302, {"Location": f"{other_port.url}/media/RE2.mp3"})
    result = downloader.download(f"{twilio.url}/Recordings/RE2", stored_file(1, "RE2.mp3"))
    assert result.size_bytes == len(b"ID3-audio")
    assert twilio.authorizations() == [basic_auth(test_env)]
    assert other_port.authorizations() == [None]   # same host, other port: the credentials were dropped

    evil = attacker.url.removeprefix("http://")
    for index, location in enumerate((f"{attacker.url}/x.mp3",                         # not on the list
                                      f"http://{evil}\\@{twilio.url.removeprefix('http://')}/x.mp3",
                                      f"http://user@{evil}/x.mp3", f"/\\{evil}/x.mp3")):
        twilio.route(f"/Recordings/RE3{index}.mp3", 302, {"Location": location})
        with pytest.raises(RecordingHostRefused):
            downloader.download(f"{twilio.url}/Recordings/RE3{index}", stored_file(1, "RE3.mp3"))
    assert attacker.connections == 0


def test_a_download_past_recording_max_bytes_stops_and_fails_without_retry(client, business, test_env,
                                                                            worker_factory, clean_queues):
    fake = FakeTwilio(account_sid=test_env["TWILIO_ACCOUNT_SID"], auth_token=test_env["TWILIO_AUTH_TOKEN"])
    try:
        body = b"\0" * (32 * 1024 * 1024)
        sid = fake.add(business.id, body=body, chunk_size=64 * 1024)
        worker_factory(queues="recordings", modules=(), env={"RECORDING_MAX_BYTES": str(64 * 1024)})
        assert post_callback(client, fake, business.id, fake.callback_form(sid)).status_code == 204
        row = wait_recording(sid, "failed", "ready", timeout=60)
        assert row.status == "failed" and "cap" in row.error, row.error
        job = wait_job(row.download_job_id, "failed")
        assert job.attempts == 1 and job.error_reason == "too_large"
        assert fake.recordings[sid].bytes_sent < len(body)
    finally:
        fake.close()
