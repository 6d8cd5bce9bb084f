"""Calls, their Twilio recordings (download and transcript state) and uploaded audio sessions."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class RecordingStatus:
    PENDING = "pending"          # known from Twilio's callback, not yet local
    READY = "ready"              # the file is stored locally, complete
    FAILED = "failed"            # the download failed for good (refused host, 401/403, retries spent)
    EXPIRED = "expired"          # the local file was deleted after the retention period
    ABSENT = "absent"            # Twilio reported the recording as not completed (absent/failed)


class TranscriptStatus:
    NONE = "none"
    QUEUED = "queued"
    COMPLETED = "completed"
    FAILED = "failed"


class SessionStatus:
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    call_sid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the recordings cleanup when the call's local recording files were deleted.
    recordings_expired_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("business_id", "call_sid", name="uq_calls_business_call_sid"),)


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    call_sid: Mapped[str] = mapped_column(String(64))
    # Unique: Twilio's retried deliveries of one RecordingSid can never create a second row (or download).
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    recording_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=RecordingStatus.PENDING)
    twilio_duration_s: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    channels: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    file_path: Mapped[Optional[str]] = mapped_column(Text, nullable=True)  # relative to the recordings dir
    size_bytes: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    duration_s: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    download_ms: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    download_job_id: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    priority_job_id: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    priority_enqueues: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    transcript_status: Mapped[str] = mapped_column(String(16), default=TranscriptStatus.NONE)
    transcript_job_id: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    transcript: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    transcript_error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    downloaded_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)
    expired_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_recordings_business_call_sid", "business_id", "call_sid"),
        Index("ix_recordings_status_downloaded", "status", "downloaded_at"),
    )


class AudioSession(Base):
    __tablename__ = "audio_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.QUEUED)
    filename: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    content_type: Mapped[str] = mapped_column(String(100))
    file_path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    result: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_audio_sessions_business_created", "business_id", "created_at"),)
