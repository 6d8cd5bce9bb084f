"""What the recording actors do: download into the shared store, transcribe, and delete files past retention."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Optional

from dramatiq.middleware import CurrentMessage

from db import Database
from db import recordings_store as store
from db.businesses import get_business
from db.base import utcnow
from db.models.recordings import RecordingStatus
from prosaas.clients import recording_files, transcription
from prosaas.clients.twilio_api import TwilioApi
from prosaas.clients.twilio_recordings import RecordingDownloader
from prosaas.errors import BadInput, PermanentError
from prosaas.middleware.retries import describe_error, is_final_attempt

log = logging.getLogger("prosaas.recordings")

CLEANUP_BATCH = 200


@dataclass(frozen=True)
class Downloaded:
    recording_sid: str
    size_bytes: int
    duration_ms: int
    fetched: bool


def recording_file(business_id: int, recording_sid: str) -> tuple[str, recording_files.StoredFile]:
    file = recording_files.stored_file(business_id, f"{recording_sid}.mp3")
    return file.relative, file


def perform_download(actor, database: Database, business_id: int, recording_sid: str, *,
                     downloader: RecordingDownloader) -> Downloaded:
    """Fetch one recording into the downloader's store (idempotent: a complete stored copy is kept), mark it ready."""
    message = CurrentMessage.get_current_message()
    with database.session() as session:
        recording = store.get_recording(session, recording_sid, business_id)
        if recording is None:
            raise BadInput(f"no recording {recording_sid} for business {business_id}")
        url, call_sid = recording.recording_url, recording.call_sid
        expected = recording.size_bytes if recording.status == RecordingStatus.READY else None
        fallback_duration = recording.twilio_duration_s
    log.info("WORKER_PICKED job_type=download queue=%s call_sid=%s business_id=%s recording_sid=%s retry=%s",
             message.queue_name if message else "-", call_sid, business_id, recording_sid,
             message.options.get("retries", 0) if message else 0)
    relative, file = recording_file(business_id, recording_sid)
    try:
        result = downloader.download(url, file, expected_size=expected)
    except Exception as exc:
        final = is_final_attempt(actor, exc)
        with database.session() as session:
            if final:
                store.mark_download_failed(session, recording_sid, describe_error(exc))
            else:
                store.note_download_error(session, recording_sid, describe_error(exc))
        log.warning("WORKER_DOWNLOAD_%s call_sid=%s business_id=%s recording_sid=%s error=%s",
                    "FAILED" if final else "RETRY", call_sid, business_id, recording_sid, type(exc).__name__)
        raise
    with downloader.files.local_copy(file) as path:
        measured = transcription.audio_duration(path)
    duration_s = measured or (float(fallback_duration) if fallback_duration else None)
    with database.session() as session:
        store.mark_downloaded(session, recording_sid, file_path=relative, size_bytes=result.size_bytes,
                              duration_s=duration_s, download_ms=result.duration_ms if result.fetched else None)
    log.info("WORKER_DOWNLOAD_DONE call_sid=%s business_id=%s recording_sid=%s file=%s bytes=%d duration_ms=%d "
             "fetched=%s", call_sid, business_id, recording_sid, file.name, result.size_bytes, result.duration_ms,
             str(result.fetched).lower())
    return Downloaded(recording_sid, result.size_bytes, result.duration_ms, result.fetched)


def perform_transcription(actor, database: Database, business_id: int, recording_sid: str, *,
                          files: recording_files.RecordingFiles, provider: transcription.Provider) -> dict:
    """Transcribe a stored recording with `provider`, in the business's own language when it has one."""
    with database.session() as session:
        recording = store.get_recording(session, recording_sid, business_id)
        if recording is None:
            raise BadInput(f"no recording {recording_sid} for business {business_id}")
        if recording.status != RecordingStatus.READY or not recording.file_path:
            raise PermanentError(f"recording {recording_sid} is not stored (status {recording.status})")
        file = recording_files.StoredFile(recording.file_path)
        business = get_business(session, business_id)
        language = business.transcription_language if business else None
    try:
        with files.local_copy(file) as path:
            transcript = provider.transcribe(path, "audio/mpeg", language=language)
    except Exception as exc:
        if is_final_attempt(actor, exc):
            with database.session() as session:
                store.mark_transcript_failed(session, recording_sid, describe_error(exc))
        log.warning("TRANSCRIPT_FAILED business_id=%s recording_sid=%s error=%s", business_id, recording_sid,
                    type(exc).__name__)
        raise
    with database.session() as session:
        store.store_transcript(session, recording_sid, transcript.as_dict())
    log.info("TRANSCRIPT_DONE business_id=%s recording_sid=%s provider=%s segments=%d duration_s=%.1f",
             business_id, recording_sid, transcript.provider, len(transcript.segments), transcript.duration_s)
    return {"recording_sid": recording_sid, "provider": transcript.provider, "segments": len(transcript.segments),
            "duration_s": transcript.duration_s}


def cleanup_expired_recordings(database: Database, *, files: recording_files.RecordingFiles, retention_days: int,
                               delete_at_twilio: Optional[TwilioApi] = None, batch_size: int = CLEANUP_BATCH,
                               now: Optional[dt.datetime] = None) -> dict:
    """Delete the stored files of recordings downloaded more than `retention_days` ago; mark them and their calls.

    With `delete_at_twilio` (RECORDINGS_DELETE_AT_TWILIO), Twilio's copy is deleted first through that API.
    Works in batches by ascending id; running it again finds nothing left to do.
    """
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    after_id, expired, files_deleted, already_gone, kept_for_twilio = 0, 0, 0, 0, 0
    while True:
        with database.session() as session:
            batch = [(r.id, r.file_path, r.recording_sid) for r in store.expired_recordings(
                session, downloaded_before=cutoff, after_id=after_id, limit=batch_size)]
        if not batch:
            break
        cleared = []
        for recording_id, relative, recording_sid in batch:
            # Our copy goes only once Twilio's is gone too (when asked to delete it): never neither copy left
            # to play while Twilio still bills for one, and a refusal is tried again at the next cleanup.
            if delete_at_twilio is not None and not delete_at_twilio.delete_recording(recording_sid):
                kept_for_twilio += 1
                continue
            if relative and files.delete(recording_files.StoredFile(relative)):
                files_deleted += 1
            else:
                already_gone += 1
            cleared.append(recording_id)
        with database.session() as session:
            store.mark_expired(session, cleared)
        expired += len(cleared)
        after_id = batch[-1][0]
        log.info("RECORDINGS_CLEANUP_BATCH expired=%d files_deleted=%d last_id=%d", len(batch), files_deleted,
                 after_id)
    stale_parts = files.remove_stale_parts()
    log.info("RECORDINGS_CLEANUP_DONE expired=%d files_deleted=%d already_gone=%d kept_for_twilio=%d "
             "stale_parts=%d retention_days=%d", expired, files_deleted, already_gone, kept_for_twilio, stale_parts,
             retention_days)
    return {"expired": expired, "files_deleted": files_deleted, "already_gone": already_gone,
            "kept_for_twilio": kept_for_twilio, "stale_parts": stale_parts}
