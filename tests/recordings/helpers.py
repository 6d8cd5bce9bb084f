"""Small helpers for the recordings tests: read rows, wait for states, reach the stored files."""
from __future__ import annotations

from db import job_store
from db import recordings_store as store
from prosaas.clients import recording_files
from prosaas.runtime import get_runtime
from prosaas.settings import get_settings
from tests.support.processes import wait_for


def files() -> recording_files.RecordingFiles:
    """The store the current settings name (a test may point STORAGE_URL elsewhere and reset the settings)."""
    return recording_files.from_settings(get_settings())


def recording_row(recording_sid: str):
    with get_runtime().database.session() as session:
        return store.get_recording(session, recording_sid)


def job_row(job_id: str):
    with get_runtime().database.session() as session:
        return job_store.get_job(session, job_id)


def jobs_of_type(business_id: int, job_type: str):
    with get_runtime().database.session() as session:
        return job_store.list_jobs(session, business_id=business_id, type=job_type, limit=500)


def wait_recording(recording_sid: str, *statuses: str, timeout: float = 60):
    def ready():
        row = recording_row(recording_sid)
        return row if row is not None and row.status in statuses else None
    return wait_for(ready, timeout, interval=0.2, what=f"recording {recording_sid} to be {'/'.join(statuses)}")


def wait_job(job_id: str, *statuses: str, timeout: float = 60):
    def done():
        row = job_row(job_id)
        return row if row is not None and row.status in statuses else None
    return wait_for(done, timeout, interval=0.2, what=f"job {job_id} to be {'/'.join(statuses)}")


def stored_bytes(recording) -> bytes:
    body = files().open_range(recording_files.StoredFile(recording.file_path))
    try:
        return body.read()
    finally:
        body.close()
