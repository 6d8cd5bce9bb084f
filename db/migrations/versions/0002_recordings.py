"""Recordings: calls, Twilio recordings (download + transcript state), audio sessions.

Revision ID: 0002_recordings
Revises: 0001_foundation
"""
import sqlalchemy as sa
from alembic import op

from db.base import UTCDateTime

revision = "0002_recordings"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _business_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE",
                                   name=f"fk_{table}_business_id_businesses")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("recordings_expired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        _business_fk("calls"),
        sa.UniqueConstraint("business_id", "call_sid", name="uq_calls_business_call_sid"),
    )
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.Integer, nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("recording_sid", sa.String(64), nullable=False),
        sa.Column("recording_url", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("twilio_duration_s", sa.Integer, nullable=True),
        sa.Column("channels", sa.Integer, nullable=True),
        sa.Column("file_path", sa.Text, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("download_ms", sa.Integer, nullable=True),
        sa.Column("download_job_id", sa.String(40), nullable=True),
        sa.Column("priority_job_id", sa.String(40), nullable=True),
        sa.Column("priority_enqueues", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("transcript_status", sa.String(16), nullable=False),
        sa.Column("transcript_job_id", sa.String(40), nullable=True),
        sa.Column("transcript", sa.JSON, nullable=True),
        sa.Column("transcript_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("downloaded_at", UTCDateTime(), nullable=True),
        sa.Column("expired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
        _business_fk("recordings"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE", name="fk_recordings_call_id_calls"),
        sa.UniqueConstraint("recording_sid", name="uq_recordings_recording_sid"),
    )
    op.create_index("ix_recordings_business_call_sid", "recordings", ["business_id", "call_sid"])
    op.create_index("ix_recordings_status_downloaded", "recordings", ["status", "downloaded_at"])
    op.create_table(
        "audio_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("file_path", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audio_sessions"),
        _business_fk("audio_sessions"),
    )
    op.create_index("ix_audio_sessions_business_created", "audio_sessions", ["business_id", "created_at"])


def downgrade() -> None:
    op.drop_table("audio_sessions")
    op.drop_table("recordings")
    op.drop_table("calls")
