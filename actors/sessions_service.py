"""Audio sessions, the service: accept an uploaded audio file as a session and start its processing; the view.

The upload is stored first (whole or not at all), refused if its header declares more than SESSION_MAX_SECONDS,
then recorded and enqueued; a file whose session could not start is deleted.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Optional

from db import Database
from db import recordings_store as store
from db.base import new_id
from prosaas.clients import recording_files, transcription
from prosaas.clients.storage import StorageUnavailable
from prosaas.errors import error_class
from prosaas.jobs import enqueue_tracked_or_undo

from actors.sessions import process_audio_session
from actors.sessions_work import SESSIONS_DIR

log = logging.getLogger("prosaas.sessions")


def start_audio_session(database: Database, business_id: int, chunks: Iterable[bytes], *,
                        files: recording_files.RecordingFiles, extension: str, content_type: str,
                        filename: Optional[str], max_bytes: int, max_seconds: int) -> tuple[str, str]:
    """Store the upload in `files` and enqueue its processing; returns (session_id, job_id).

    Raises recording_files.TooLarge (over `max_bytes`), transcription.BadAudio (its header declares more
    than `max_seconds`), StorageUnavailable, or BrokerUnavailable; the file is never kept without its session.
    """
    session_id = new_id()
    file = recording_files.stored_file(business_id, f"{session_id}{extension}", SESSIONS_DIR)
    size = files.write_atomically(file, chunks, max_size=max_bytes)
    try:
        with files.local_copy(file) as path:
            transcription.refuse_declared_overlong(path, max_seconds)
        job_id = _record_and_enqueue(database, business_id, session_id, file.relative, size, content_type, filename)
    except Exception:
        try:
            files.delete(file)
        except StorageUnavailable:  # the first error is the one to answer; a stray file is only space
            log.warning("SESSION_FILE_NOT_DELETED business_id=%s session_id=%s", business_id, session_id)
        raise
    return session_id, job_id


def _record_and_enqueue(database: Database, business_id: int, session_id: str, relative_path: str, size_bytes: int,
                        content_type: str, filename: Optional[str]) -> str:
    with database.session() as session:
        store.create_audio_session(session, session_id=session_id, business_id=business_id, filename=filename,
                                   content_type=content_type, file_path=relative_path, size_bytes=size_bytes)

    def fail_session():  # the upload is kept as a failed session the user can see, never a pending one
        with database.session() as session:
            store.fail_audio_session_attempt(session, session_id, "could not enqueue its processing job",
                                             final=True)

    enqueued = enqueue_tracked_or_undo(process_audio_session, business_id=business_id,
                                       kwargs={"session_id": session_id}, undo=fail_session)
    with database.session() as session:
        store.set_audio_session_job(session, session_id, enqueued.job_id)
    log.info("SESSION_ACCEPTED business_id=%s session_id=%s job_id=%s bytes=%d", business_id, session_id,
             enqueued.job_id, size_bytes)
    return enqueued.job_id


def session_view(database: Database, business_id: int, session_id: str) -> Optional[dict[str, Any]]:
    """The public JSON shape of an audio session (the error only as its class); None: no such session."""
    with database.session() as session:
        row = store.get_audio_session(session, session_id, business_id)
        if row is None:
            return None
        return {
            "id": row.id, "status": row.status, "job_id": row.job_id, "attempts": row.attempts,
            "error": error_class(row.error), "result": row.result, "size_bytes": row.size_bytes,
            "content_type": row.content_type, "filename": row.filename,
            "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        }
