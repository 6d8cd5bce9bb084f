"""Audio sessions (the original ML worker): process an uploaded recording into duration, segments, speakers, words.

Three retries at exactly 5/10/20 s (no jitter); after the last one the session is `failed` with the error.
Audio longer than SESSION_MAX_SECONDS (by its header or once decoded) fails at once as BadAudio.
"""
from __future__ import annotations

import logging
from typing import Optional

import dramatiq

from db import recordings_store as store
from db.base import new_id
from prosaas.clients import recording_files, transcription
from prosaas.errors import BadInput
from prosaas.jobs import enqueue_tracked_or_undo
from prosaas.middleware.retries import describe_error, is_final_attempt
from prosaas.runtime import get_runtime
from prosaas.settings import get_settings

log = logging.getLogger("prosaas.sessions")

SESSIONS_DIR = "sessions"


@dramatiq.actor(queue_name="default", job_type="audio_session", max_retries=3, min_backoff=5_000,
                per_business=lambda: get_settings().sessions_per_business, backoff_jitter=False,
                time_limit=30 * 60 * 1000)
def process_audio_session(business_id: int, session_id: str) -> dict:
    database = get_runtime().database
    with database.session() as session:
        row = store.start_session_attempt(session, session_id)
        if row is None or row.business_id != business_id:
            raise BadInput(f"no audio session {session_id} for business {business_id}")
        relative, content_type, attempt = row.file_path, row.content_type, row.attempts
    log.info("SESSION_PICKED business_id=%s session_id=%s attempt=%d", business_id, session_id, attempt)
    try:
        with recording_files.local_copy(recording_files.StoredFile(relative, SESSIONS_DIR)) as path:
            transcript = transcription.transcribe(path, content_type, max_seconds=get_settings().session_max_seconds)
    except Exception as exc:
        final = is_final_attempt(process_audio_session, exc)
        with database.session() as session:
            store.fail_audio_session_attempt(session, session_id, describe_error(exc), final=final)
        log.warning("SESSION_%s business_id=%s session_id=%s attempt=%d error=%s", "FAILED" if final else "RETRY",
                    business_id, session_id, attempt, type(exc).__name__)
        raise
    result = {"duration_s": transcript.duration_s, "speakers": transcript.speakers,
              "segments": transcript.segments, "words": transcript.words, "text": transcript.text,
              "total_words": len(transcript.words) if transcript.words is not None else None,
              "provider": transcript.provider}
    with database.session() as session:
        store.finish_audio_session(session, session_id, result)
    log.info("SESSION_DONE business_id=%s session_id=%s duration_s=%.1f speakers=%d segments=%d words=%s",
             business_id, session_id, transcript.duration_s, transcript.speakers, len(transcript.segments),
             result["total_words"] if result["total_words"] is not None else "-")
    return {"session_id": session_id, "duration_s": transcript.duration_s, "segments": len(transcript.segments),
            "speakers": transcript.speakers}


def start_audio_session(business_id: int, *, session_id: str, relative_path: str, size_bytes: int,
                        content_type: str, filename: Optional[str]) -> tuple[str, str]:
    """Record an uploaded (already stored) audio file and enqueue its processing; returns (session_id, job_id)."""
    database = get_runtime().database
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
    return session_id, enqueued.job_id


def new_session_id() -> str:
    return new_id()
