"""The download actor against a fake Twilio: byte-exact files, early 404s retried, refusals, per-business limit."""
from __future__ import annotations

import re

from actors.recordings import download_recording
from prosaas.jobs import enqueue_tracked
from tests.recordings.helpers import jobs_of_type, recording_row, stored_bytes, wait_job, wait_recording
from tests.support.fake_twilio import FakeTwilio, callback_path, fixed_port, make_mp3, post_callback
from tests.support.processes import wait_for


def test_signed_callback_downloads_the_file_once_byte_identical_then_transcribes(
        client, business, fake_twilio, module_worker):
    body = make_mp3(seconds=3, silence_every=0.75)
    sid = fake_twilio.add(business.id, body=body, not_found_first=2)  # Twilio's 404 right after the callback
    form = fake_twilio.callback_form(sid)
    worker = module_worker()
    assert post_callback(client, fake_twilio, business.id, form).status_code == 204
    assert post_callback(client, fake_twilio, business.id, form).status_code == 204  # Twilio retried delivery
    row = wait_recording(sid, "ready", "failed", timeout=60)
    assert row.status == "ready", row.error
    assert stored_bytes(row) == body and row.size_bytes == len(body)
    assert fake_twilio.requests_for(sid) == 3  # two early 404s, then one successful download
    assert abs(row.duration_s - 3.0) < 0.2
    job = wait_job(row.download_job_id, "completed")
    assert job.attempts == 3 and job.result["bytes"] == len(body)
    assert len(jobs_of_type(business.id, "recording_download")) == 1
    again = enqueue_tracked(download_recording, business_id=business.id, kwargs={"recording_sid": sid}).job
    assert wait_job(again.id, "completed").result["fetched"] is False  # complete file already there
    assert fake_twilio.requests_for(sid) == 3

    transcript_job = wait_job(wait_for(lambda: recording_row(sid).transcript_job_id, 30, what="transcript job"),
                              "completed", timeout=60)
    call = client.simulate_get(f"/api/calls/{form['CallSid']}", headers=business.headers).json
    assert call["recording"]["status"] == "ready" and call["recording"]["size_bytes"] == len(body)
    transcript = call["transcript"]
    assert transcript["status"] == "completed" and transcript["job_id"] == transcript_job.id
    assert transcript["provider"] == "webrtcvad" and transcript["speakers"] == 1
    # Voice 0.75 s, silence 0.75 s, voice, silence: two speech segments, where the voice is.
    segments = transcript["segments"]
    assert len(segments) == 2, segments
    assert segments[0]["start"] < 0.2 and 0.6 < segments[0]["end"] < 1.2
    assert 1.3 < segments[1]["start"] < 1.7

    log = worker.log()
    for event in ("WORKER_PICKED", "SLOT_ACQUIRED", "WORKER_DOWNLOAD_DONE", "SLOT_RELEASED", "TRANSCRIPT_DONE"):
        assert event in log, event
    assert re.search(r"SLOT_RELEASED actor=download_recording .*active_after=0/3", log)
    # What the runbooks grep: the call in every slot event, and why a slot was released with what still waits.
    call = form["CallSid"]
    assert re.search(rf"SLOT_ACQUIRED actor=download_recording business_id={business.id} job_id=\w+ "
                     rf"call_sid={call} active=1/3", log)
    assert re.search(rf"SLOT_RELEASED actor=download_recording business_id={business.id} job_id=\w+ "
                     rf"call_sid={call} reason=retry active_after=0/3 waiting_after=0", log)  # the early 404s
    assert re.search(rf"SLOT_RELEASED actor=download_recording business_id={business.id} job_id=\w+ "
                     rf"call_sid={call} reason=success active_after=0/3 waiting_after=0", log)
    assert f"bytes={len(body)} duration_ms=" in log


def test_disallowed_host_is_refused_and_never_fetched(client, business, fake_twilio, module_worker):
    sid = fake_twilio.add(business.id)
    form = fake_twilio.callback_form(sid, host="localhost")  # same server, but not on TWILIO_RECORDING_HOSTS
    worker = module_worker()
    assert post_callback(client, fake_twilio, business.id, form).status_code == 204
    row = wait_recording(sid, "failed", timeout=30)
    assert "TWILIO_RECORDING_HOSTS" in row.error
    job = wait_job(row.download_job_id, "failed")
    assert job.attempts == 1 and job.error_reason == "host_refused"
    assert fake_twilio.requests_for(sid) == 0
    assert "RECORDING_HOST_REFUSED host=localhost" in worker.log()


def test_wrong_credentials_fail_at_once_without_retry(client, business, test_env, module_worker):
    other_account = FakeTwilio(account_sid=test_env["TWILIO_ACCOUNT_SID"], auth_token="another-token",
                               port=fixed_port(1))
    try:
        sid = other_account.add(business.id)
        module_worker()
        form = other_account.callback_form(sid)
        form_signature = other_account.sign(
            f"http://falconframework.org{callback_path(business.id)}", form,
            token=test_env["TWILIO_AUTH_TOKEN"])
        assert post_callback(client, other_account, business.id, form,
                             signature=form_signature).status_code == 204
        row = wait_recording(sid, "failed", timeout=30)
        job = wait_job(row.download_job_id, "failed")
        assert job.attempts == 1 and job.error_reason == "twilio_auth"
        assert other_account.unauthorized == 1
    finally:
        other_account.close()


def test_one_business_never_has_more_than_three_downloads_and_does_not_starve_another(
        client, make_business, fake_twilio, module_worker):
    busy, quiet = make_business("Busy"), make_business("Quiet")
    busy_sids = [fake_twilio.add(busy.id, body=make_mp3(1.0, 100 + 5 * i), chunk_size=1024, chunk_delay=0.1)
                 for i in range(20)]
    module_worker()
    for sid in busy_sids:
        assert post_callback(client, fake_twilio, busy.id, fake_twilio.callback_form(sid)).status_code == 204
    wait_for(lambda: fake_twilio.max_active[busy.id] >= 1, 30, what="first busy download")
    quiet_sid = fake_twilio.add(quiet.id, body=make_mp3(0.5, 200), chunk_size=1024, chunk_delay=0.05)
    assert post_callback(client, fake_twilio, quiet.id, fake_twilio.callback_form(quiet_sid)).status_code == 204

    quiet_row = wait_recording(quiet_sid, "ready", timeout=60)
    busy_done_then = sum(recording_row(sid).status == "ready" for sid in busy_sids)
    assert busy_done_then < len(busy_sids), "the quiet business waited for the busy one's whole backlog"
    rows = [wait_recording(sid, "ready", timeout=90) for sid in busy_sids]
    assert all(stored_bytes(row) == fake_twilio.recordings[row.recording_sid].body for row in rows)
    assert stored_bytes(quiet_row) == fake_twilio.recordings[quiet_sid].body
    assert 2 <= fake_twilio.max_active[busy.id] <= 3, dict(fake_twilio.max_active)
    assert all(fake_twilio.requests_for(sid) == 1 for sid in busy_sids)
