"""Businesses (tenants, with hashed API keys) and the background_jobs table."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum, nonmember
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow


class JobStatus(StrEnum):
    """A job row's status (str-valued: the column, JSON and logs hold the plain word)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ACTIVE = nonmember((QUEUED, RUNNING, PAUSED))
    FINISHED = nonmember((COMPLETED, FAILED, CANCELLED))
    ALL = nonmember((QUEUED, RUNNING, PAUSED, COMPLETED, FAILED, CANCELLED))


class JobControl(StrEnum):
    """What an operator or business may ask of a job; pause and cancel of a running batch job are kept
    as its `requested_action` until the job honours them between batches."""

    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY = "retry"


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    api_key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    api_key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    transcription_language: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)  # else the setting's
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)  # key refused, jobs not started


class BackgroundJob(Base):
    __tablename__ = "background_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    is_batch: Mapped[bool] = mapped_column(default=False)
    requested_action: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    error_reason: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cursor: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    result: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    worker: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_background_jobs_business_type_status", "business_id", "type", "status"),
        Index("ix_background_jobs_status_updated", "status", "updated_at"),
        Index("ix_background_jobs_created_id", "created_at", "id"),  # job search pages by this key
    )

    @property
    def percent(self) -> float:
        if self.total:
            return round(min(100.0, 100.0 * self.processed / self.total), 1)
        return 100.0 if self.status == JobStatus.COMPLETED else 0.0
