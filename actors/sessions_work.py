"""What the audio-session actor does: transcribe the stored upload into duration, segments, speakers, words.

An attempt that fails records its error on the session; the last one (see is_final_attempt) marks it `failed`.
Audio longer than SESSION_MAX_SECONDS (by its header or once decoded) fails at once as BadAudio.
"""
from __future__ import annotations

import logging

from db import Database
from db import recordings_store as store
from prosaas.clients import recording_files, transcription
from prosaas.errors import BadInput
from prosaas.middleware.retries import describe_error, is_final_attempt

log = logging.getLogger("prosaas.sessions")

SESSIONS_DIR = "sessions"


def process_session(actor, database: Database, business_id: int, session_id: str, *,
                    files: recording_files.RecordingFiles, provider: transcription.Provider,
                    max_seconds: float) -> dict:
    """Transcribe the session's upload with `provider`; audio past `max_seconds` fails as BadAudio."""
    with database.session() as session:
        row = store.start_session_attempt(session, session_id)
        if row is None or row.business_id != business_id:
            raise BadInput(f"no audio session {session_id} for business {business_id}")
        relative, content_type, attempt = row.file_path, row.content_type, row.attempts
    log.info("SESSION_PICKED business_id=%s session_id=%s attempt=%d", business_id, session_id, attempt)
    try:
        with files.local_copy(recording_files.StoredFile(relative, SESSIONS_DIR)) as path:
            transcript = provider.transcribe(path, content_type, max_seconds=max_seconds)
    except Exception as exc:
        final = is_final_attempt(actor, exc)
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
