"""A worker SIGKILLed mid-download: the file is never truncated, and a new worker completes the job.

In a module of its own, so no other module's worker is there to take the download instead.
"""
from __future__ import annotations

from prosaas.clients import recording_files
from tests.recordings.helpers import files, recording_row, stored_bytes, wait_job, wait_recording
from tests.support.fake_twilio import make_mp3, post_callback
from tests.support.processes import wait_for


def test_worker_killed_mid_download_leaves_no_truncated_file_and_the_job_completes(
        client, business, fake_twilio, recordings_worker):
    body = make_mp3(seconds=6, bitrate=64)
    sid = fake_twilio.add(business.id, body=body, chunk_size=2048, chunk_delay=0.05)
    first = recordings_worker(queues="recordings")
    assert post_callback(client, fake_twilio, business.id, fake_twilio.callback_form(sid)).status_code == 204
    wait_for(lambda: fake_twilio.recordings[sid].bytes_sent > 8192, 30, what="the download to be under way")
    first.kill_group()
    row = recording_row(sid)
    assert row.status == "pending" and row.file_path is None
    final = recording_files.stored_file(business.id, f"{sid}.mp3")
    assert files().existing_size(final) is None, "a partial download reached the final key"

    recordings_worker(queues="recordings")
    row = wait_recording(sid, "ready", timeout=90)
    assert stored_bytes(row) == body
    assert fake_twilio.requests_for(sid) == 2
    assert wait_job(row.download_job_id, "completed", timeout=30).attempts == 2
