"""Recordings in the shared store (moto's S3 server): a worker with one data dir downloads, a web role with
another serves every byte with Range from the bucket, Twilio is asked once; no partial object ever shows;
cleanup deletes from the bucket."""
from __future__ import annotations

import datetime as dt
import os

import pytest
import requests
from sqlalchemy import update

from actors.recordings_work import cleanup_expired_recordings
from db import recordings_store as store
from db.base import utcnow
from db.models.recordings import Recording
from prosaas.clients import recording_files
from prosaas.clients.storage import PARTS_PREFIX, StorageIncomplete, open_storage
from prosaas.settings import reset_settings_cache
from tests.batch.conftest import s3  # noqa: F401  (the run's moto S3 server, a session fixture)
from tests.batch.s3_support import CREDENTIALS
from tests.recordings.helpers import files, recording_row, wait_recording
from tests.support.fake_twilio import make_mp3, new_sid, post_callback
from tests.support.processes import start_web

BUCKET = "recordings-test"


@pytest.fixture(scope="module")
def s3_store(s3):
    """The batch tests' moto server (one per run), with a bucket of our own."""
    s3.client.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture
def shared_storage(s3_store):
    """This process (tests, in-process app) stores in the bucket too; restored afterwards."""
    env = {"STORAGE_URL": f"s3://{BUCKET}", "S3_ENDPOINT_URL": s3_store.url, **CREDENTIALS}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    reset_settings_cache()
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings_cache()


def test_downloaded_on_one_host_played_byte_exact_with_range_from_another(
        client, business, fake_twilio, recordings_worker, shared_storage, s3_store, tmp_path):
    body = make_mp3(seconds=3, pitch=220)
    sid = fake_twilio.add(business.id, body=body)
    recordings_worker(queues="recordings,low", env={**shared_storage, "PROSAAS_DATA_DIR": str(tmp_path / "worker")})
    form = fake_twilio.callback_form(sid)
    assert post_callback(client, fake_twilio, business.id, form).status_code == 204
    row = wait_recording(sid, "ready", timeout=60)
    assert s3_store.keys(BUCKET, f"recordings/{business.id}/") == [f"recordings/{business.id}/{sid}.mp3"]
    assert s3_store.keys(BUCKET, PARTS_PREFIX) == []
    assert not (tmp_path / "worker" / "recordings").exists()

    web, base = start_web(tmp_path, env={**shared_storage, "PROSAAS_DATA_DIR": str(tmp_path / "web")})
    try:
        url = f"{base}/api/calls/{form['CallSid']}/recording"
        whole = requests.get(url, headers=business.headers, timeout=10)
        assert whole.status_code == 200 and whole.content == body
        middle = requests.get(url, headers={**business.headers, "Range": "bytes=100-1099"}, timeout=10)
        assert middle.status_code == 206 and middle.content == body[100:1100]
        assert middle.headers["Content-Range"] == f"bytes 100-1099/{len(body)}"
        tail = requests.get(url, headers={**business.headers, "Range": "bytes=-10"}, timeout=10)
        assert tail.status_code == 206 and tail.content == body[-10:]
        beyond = requests.get(url, headers={**business.headers, "Range": f"bytes={len(body)}-"}, timeout=10)
        assert beyond.status_code == 416
        head = requests.head(url, headers=business.headers, timeout=10)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(body) == row.size_bytes
    finally:
        web.stop()
    assert fake_twilio.requests_for(sid) == 1  # played from the bucket, never fetched from Twilio again
    assert not (tmp_path / "web" / "recordings").exists()


def test_a_short_write_never_becomes_visible(shared_storage, s3_store, business, tmp_path):
    file = recording_files.stored_file(business.id, f"{new_sid('RE')}.mp3")
    with pytest.raises(recording_files.IncompleteWrite):
        files().write_atomically(file, [b"a" * 1000], expected_size=2000)
    store = open_storage(f"s3://{BUCKET}", s3_store.url)
    with pytest.raises(StorageIncomplete):  # the temporary object's size is checked before it is copied in
        (tmp_path / "ten").write_bytes(b"x" * 10)
        store.put_file(file.key, tmp_path / "ten", expected_size=11)
    assert files().existing_size(file) is None
    assert s3_store.keys(BUCKET, PARTS_PREFIX) == []
    assert files().write_atomically(file, [b"a" * 1000, b"b" * 1000], expected_size=2000) == 2000
    assert files().existing_size(file) == 2000


def test_cleanup_deletes_expired_recordings_from_the_bucket(runtime, business, shared_storage, s3_store):
    sids = [new_sid("RE") for _ in range(3)]
    for age, sid in zip((400, 400, 1), sids):
        file = recording_files.stored_file(business.id, f"{sid}.mp3")
        files().write_atomically(file, [b"mp3-bytes"], expected_size=9)
        with runtime.database.session() as session:
            store.record_recording(session, business_id=business.id, call_sid=new_sid("CA"), recording_sid=sid,
                                   recording_url=f"https://api.twilio.com/x/{sid}", duration_s=1, channels=1)
            store.mark_downloaded(session, sid, file_path=file.relative, size_bytes=9, duration_s=1.0, download_ms=5)
            session.execute(update(Recording).where(Recording.recording_sid == sid)
                            .values(downloaded_at=utcnow() - dt.timedelta(days=age)))
    result = cleanup_expired_recordings(runtime.database, files=files(),
                                        retention_days=runtime.settings.recordings_retention_days)
    assert result["files_deleted"] >= 2
    assert s3_store.keys(BUCKET, f"recordings/{business.id}/") == [f"recordings/{business.id}/{sids[2]}.mp3"]
    assert [recording_row(sid).status for sid in sids] == ["expired", "expired", "ready"]
