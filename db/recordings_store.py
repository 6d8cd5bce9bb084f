"""Reads and writes of calls, recordings and audio sessions; every query is scoped by business_id."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models.recordings import (AudioSession, Call, Recording, RecordingStatus, SessionStatus,
                                  TranscriptStatus)

CLAIM_PREFIX = "claim:"  # a priority download being enqueued right now by one request


# Calls and recordings -------------------------------------------------------------------

def get_call(session: Session, business_id: int, call_sid: str) -> Optional[Call]:
    return session.scalars(select(Call).where(Call.business_id == business_id, Call.call_sid == call_sid)).first()


def get_or_create_call(session: Session, business_id: int, call_sid: str) -> Call:
    call = get_call(session, business_id, call_sid)
    if call is not None:
        return call
    try:
        with session.begin_nested():
            now = utcnow()
            call = Call(business_id=business_id, call_sid=call_sid, created_at=now, updated_at=now)
            session.add(call)
            session.flush()
        return call
    except IntegrityError:  # a concurrent delivery created it first
        return get_call(session, business_id, call_sid)


def record_recording(session: Session, *, business_id: int, call_sid: str, recording_sid: str,
                               recording_url: str, duration_s: Optional[int], channels: Optional[int],
                               status: str = RecordingStatus.PENDING) -> tuple[Recording, bool]:
    """Insert the recording of a callback once. Returns (row, created).

    The unique constraint on recording_sid decides between concurrent duplicate deliveries.
    """
    existing = get_recording(session, recording_sid)
    if existing is not None:
        return existing, False
    call = get_or_create_call(session, business_id, call_sid)
    now = utcnow()
    try:
        with session.begin_nested():
            recording = Recording(
                business_id=business_id, call_id=call.id, call_sid=call_sid, recording_sid=recording_sid,
                recording_url=recording_url, status=status, twilio_duration_s=duration_s,
                channels=channels, priority_enqueues=0, transcript_status=TranscriptStatus.NONE,
                created_at=now, updated_at=now)
            session.add(recording)
            session.flush()
        call.updated_at = now
        return recording, True
    except IntegrityError:
        existing = get_recording(session, recording_sid)
        if existing is None:
            raise
        return existing, False


def get_recording(session: Session, recording_sid: str, business_id: Optional[int] = None) -> Optional[Recording]:
    query = select(Recording).where(Recording.recording_sid == recording_sid)
    if business_id is not None:
        query = query.where(Recording.business_id == business_id)
    return session.scalars(query).first()


def recordings_of_call(session: Session, business_id: int, call_sid: str) -> list[Recording]:
    return list(session.scalars(select(Recording).where(
        Recording.business_id == business_id, Recording.call_sid == call_sid).order_by(Recording.id)))


def playable_recording(session: Session, business_id: int, call_sid: str) -> Optional[Recording]:
    """The recording to play for a call: a ready one if any, else the newest."""
    recordings = recordings_of_call(session, business_id, call_sid)
    ready = [r for r in recordings if r.status == RecordingStatus.READY]
    return (ready or recordings or [None])[-1]


def delete_recording_row(session: Session, recording_id: int) -> None:
    """Undo a callback whose download could not be enqueued (Twilio's retry will create it again)."""
    row = session.get(Recording, recording_id)
    if row is not None:
        session.delete(row)


def _touch(session: Session, recording_sid: str, **values) -> int:
    values["updated_at"] = utcnow()
    result = session.execute(update(Recording).where(Recording.recording_sid == recording_sid).values(**values)
                             .execution_options(synchronize_session=False))
    return result.rowcount


def set_download_job(session: Session, recording_sid: str, job_id: str) -> None:
    _touch(session, recording_sid, download_job_id=job_id)


def mark_downloaded(session: Session, recording_sid: str, *, file_path: str, size_bytes: int,
                    duration_s: Optional[float], download_ms: Optional[int]) -> None:
    values: dict[str, Any] = dict(status=RecordingStatus.READY, file_path=file_path, size_bytes=size_bytes,
                                  downloaded_at=utcnow(), error=None, expired_at=None, priority_enqueues=0)
    if duration_s is not None:
        values["duration_s"] = duration_s
    if download_ms is not None:
        values["download_ms"] = download_ms
    _touch(session, recording_sid, **values)


def mark_download_failed(session: Session, recording_sid: str, error: str) -> None:
    session.execute(update(Recording).where(Recording.recording_sid == recording_sid,
                                            Recording.status == RecordingStatus.PENDING)
                    .values(status=RecordingStatus.FAILED, error=error[:2000], updated_at=utcnow())
                    .execution_options(synchronize_session=False))


def note_download_error(session: Session, recording_sid: str, error: str) -> None:
    """A failed attempt that will be retried: keep the error visible, status unchanged."""
    _touch(session, recording_sid, error=error[:2000])


def claim_priority_download(session: Session, recording_id: int, *, seen_job_id: Optional[str],
                            token: str) -> bool:
    """One request (of many concurrent ones) wins the right to enqueue the next priority download."""
    condition = (Recording.priority_job_id.is_(None) if seen_job_id is None
                 else Recording.priority_job_id == seen_job_id)
    result = session.execute(update(Recording).where(Recording.id == recording_id, condition).values(
        priority_job_id=CLAIM_PREFIX + token, priority_enqueues=Recording.priority_enqueues + 1,
        updated_at=utcnow(),
    ).execution_options(synchronize_session=False))
    return result.rowcount == 1


def settle_priority_claim(session: Session, recording_id: int, token: str, job_id: Optional[str]) -> None:
    """Replace the claim by the job enqueued (or release it when the enqueue failed)."""
    values: dict[str, Any] = {"priority_job_id": job_id, "updated_at": utcnow()}
    if job_id is None:
        values["priority_enqueues"] = Recording.priority_enqueues - 1
    session.execute(update(Recording).where(Recording.id == recording_id,
                                            Recording.priority_job_id == CLAIM_PREFIX + token)
                    .values(**values).execution_options(synchronize_session=False))


def revive_failed_for_priority(session: Session, recording_id: int) -> None:
    """A user asks again for a recording whose download failed: it is pending again."""
    session.execute(update(Recording).where(Recording.id == recording_id,
                                            Recording.status == RecordingStatus.FAILED)
                    .values(status=RecordingStatus.PENDING, updated_at=utcnow())
                    .execution_options(synchronize_session=False))


# Transcripts ----------------------------------------------------------------------------

def claim_transcription(session: Session, recording_sid: str) -> bool:
    """none/failed -> queued, once: the winner enqueues the transcription job."""
    result = session.execute(update(Recording).where(
        Recording.recording_sid == recording_sid,
        Recording.transcript_status.in_((TranscriptStatus.NONE, TranscriptStatus.FAILED)),
    ).values(transcript_status=TranscriptStatus.QUEUED, transcript_error=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def set_transcript_job(session: Session, recording_sid: str, job_id: Optional[str]) -> None:
    values: dict[str, Any] = {"transcript_job_id": job_id}
    if job_id is None:
        values["transcript_status"] = TranscriptStatus.NONE
    _touch(session, recording_sid, **values)


def store_transcript(session: Session, recording_sid: str, transcript: dict) -> None:
    _touch(session, recording_sid, transcript=transcript, transcript_status=TranscriptStatus.COMPLETED,
           transcript_error=None)


def mark_transcript_failed(session: Session, recording_sid: str, error: str) -> None:
    _touch(session, recording_sid, transcript_status=TranscriptStatus.FAILED, transcript_error=error[:2000])


# Retention ------------------------------------------------------------------------------

def expired_recordings(session: Session, *, downloaded_before: dt.datetime, after_id: int,
                       limit: int) -> list[Recording]:
    """Ready recordings downloaded before the cut-off, oldest ids first, for batch cleanup."""
    return list(session.scalars(select(Recording).where(
        Recording.status == RecordingStatus.READY, Recording.downloaded_at < downloaded_before,
        Recording.id > after_id).order_by(Recording.id).limit(limit)))


def mark_expired(session: Session, recording_ids: list[int]) -> None:
    if not recording_ids:
        return
    now = utcnow()
    session.execute(update(Recording).where(Recording.id.in_(recording_ids),
                                            Recording.status == RecordingStatus.READY)
                    .values(status=RecordingStatus.EXPIRED, expired_at=now, file_path=None, updated_at=now)
                    .execution_options(synchronize_session=False))
    call_ids = select(Recording.call_id).where(Recording.id.in_(recording_ids))
    session.execute(update(Call).where(Call.id.in_(call_ids)).values(recordings_expired_at=now, updated_at=now)
                    .execution_options(synchronize_session=False))


# Audio sessions -------------------------------------------------------------------------

def create_audio_session(session: Session, *, session_id: str, business_id: int, filename: Optional[str],
                         content_type: str, file_path: str, size_bytes: int) -> AudioSession:
    now = utcnow()
    row = AudioSession(id=session_id, business_id=business_id, status=SessionStatus.QUEUED, filename=filename,
                       content_type=content_type, file_path=file_path, size_bytes=size_bytes, attempts=0,
                       created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return row


def get_audio_session(session: Session, session_id: str, business_id: Optional[int] = None) -> Optional[AudioSession]:
    query = select(AudioSession).where(AudioSession.id == session_id)
    if business_id is not None:
        query = query.where(AudioSession.business_id == business_id)
    return session.scalars(query).first()


def set_audio_session_job(session: Session, session_id: str, job_id: str) -> None:
    session.execute(update(AudioSession).where(AudioSession.id == session_id).values(job_id=job_id)
                    .execution_options(synchronize_session=False))


def start_session_attempt(session: Session, session_id: str) -> Optional[AudioSession]:
    row = get_audio_session(session, session_id)
    if row is None:
        return None
    row.status = SessionStatus.PROCESSING
    row.attempts += 1
    row.updated_at = utcnow()
    return row


def finish_audio_session(session: Session, session_id: str, result: dict) -> None:
    now = utcnow()
    session.execute(update(AudioSession).where(AudioSession.id == session_id).values(
        status=SessionStatus.COMPLETED, result=result, error=None, updated_at=now, finished_at=now,
    ).execution_options(synchronize_session=False))


def fail_audio_session_attempt(session: Session, session_id: str, error: str, *, final: bool) -> None:
    """Record an attempt's error; after the last attempt the session is `failed` for good."""
    now = utcnow()
    values: dict[str, Any] = {"error": error[:2000], "updated_at": now}
    if final:
        values.update(status=SessionStatus.FAILED, finished_at=now)
    else:
        values["status"] = SessionStatus.QUEUED
    session.execute(update(AudioSession).where(AudioSession.id == session_id).values(**values)
                    .execution_options(synchronize_session=False))
