"""Recordings cleanup: files past retention deleted in batches, recordings and calls marked, idempotent."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from actors.recordings import cleanup_recordings
from actors.recordings_work import cleanup_expired_recordings, recording_file
from db import recordings_store as store
from db.base import utcnow
from db.models.recordings import Recording
from prosaas.clients import recording_files, twilio_api
from prosaas.settings import get_settings
from tests.recordings.helpers import files, recording_row
from tests.support.fake_twilio import new_sid


def stored_recording(runtime, business_id: int, age_days: float, recording_sid: str = "") -> str:
    sid = recording_sid or new_sid("RE")
    relative, file = recording_file(business_id, sid)
    files().write_atomically(file, [b"mp3-bytes"], expected_size=9)
    with runtime.database.session() as session:
        store.record_recording(session, business_id=business_id, call_sid=new_sid("CA"), recording_sid=sid,
                               recording_url=f"https://api.twilio.com/x/{sid}", duration_s=1, channels=1)
        store.mark_downloaded(session, sid, file_path=relative, size_bytes=9, duration_s=1.0, download_ms=5)
        session.execute(update(Recording).where(Recording.recording_sid == sid)
                        .values(downloaded_at=utcnow() - dt.timedelta(days=age_days)))
    return sid


def test_cleanup_deletes_old_files_in_batches_and_is_idempotent(runtime, business, client):
    retention = runtime.settings.recordings_retention_days
    old = [stored_recording(runtime, business.id, retention + 1 + i) for i in range(5)]
    fresh = stored_recording(runtime, business.id, retention - 1)
    already_gone = stored_recording(runtime, business.id, retention + 3)
    files().delete(recording_files.StoredFile(recording_row(already_gone).file_path))

    result = cleanup_expired_recordings(runtime.database, files=files(), retention_days=retention, batch_size=2)
    assert result["expired"] >= 6 and result["files_deleted"] >= 5 and result["already_gone"] >= 1
    for sid in old + [already_gone]:
        row = recording_row(sid)
        assert row.status == "expired" and row.file_path is None and row.expired_at is not None
        assert files().existing_size(recording_file(business.id, sid)[1]) is None
        call = client.simulate_get(f"/api/calls/{row.call_sid}", headers=business.headers).json
        assert call["recordings_expired_at"] and call["recording"]["status"] == "expired"
    assert recording_row(fresh).status == "ready"
    assert files().existing_size(recording_file(business.id, fresh)[1]) == 9

    again = cleanup_recordings()  # the periodic actor, called directly: nothing left to do
    assert again["expired"] == 0 and again["files_deleted"] == 0
    assert cleanup_recordings.queue_name == "maintenance" and str(cleanup_recordings.options["periodic"])


def test_retention_defaults_to_7_days():
    from prosaas.settings import Settings

    assert Settings(_env_file=None).recordings_retention_days == 7


@pytest.fixture
def delete_at_twilio(monkeypatch, fake_twilio):
    """RECORDINGS_DELETE_AT_TWILIO=1 with the twilio library's API base URL pointed at the fake Twilio."""
    from prosaas.settings import reset_settings_cache

    monkeypatch.setenv("RECORDINGS_DELETE_AT_TWILIO", "1")
    monkeypatch.setenv("TWILIO_API_BASE_URL", fake_twilio.base)
    reset_settings_cache()
    yield fake_twilio
    monkeypatch.undo()
    reset_settings_cache()


def test_with_delete_at_twilio_the_local_copy_goes_only_after_twilios(runtime, business, delete_at_twilio):
    fake = delete_at_twilio
    retention = runtime.settings.recordings_retention_days
    sid = stored_recording(runtime, business.id, retention + 1, recording_sid=fake.add(business.id))

    fake.refuse_deletes = True  # Twilio refuses: both copies stay, the next cleanup tries again
    twilio = twilio_api.from_settings(get_settings())  # TWILIO_API_BASE_URL: the fake
    refused = cleanup_expired_recordings(runtime.database, files=files(), retention_days=retention,
                                         delete_at_twilio=twilio)
    assert refused["kept_for_twilio"] >= 1 and fake.deleted == []
    assert recording_row(sid).status == "ready"
    assert files().existing_size(recording_file(business.id, sid)[1]) == 9

    fake.refuse_deletes = False
    cleanup_expired_recordings(runtime.database, files=files(), retention_days=retention, delete_at_twilio=twilio)
    assert fake.deleted == [sid]  # the DELETE went through the twilio library to the fake server
    row = recording_row(sid)
    assert row.status == "expired" and row.file_path is None
    assert files().existing_size(recording_file(business.id, sid)[1]) is None
