"""Foundation: businesses and background_jobs.

Revision ID: 0001_foundation
Revises:
"""
import sqlalchemy as sa
from alembic import op

from db.base import UTCDateTime

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("api_key_prefix", sa.String(16), nullable=False),
        sa.Column("api_key_hash", sa.String(128), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_businesses"),
        sa.UniqueConstraint("api_key_hash", name="uq_businesses_api_key_hash"),
    )
    op.create_index("ix_businesses_api_key_prefix", "businesses", ["api_key_prefix"])
    op.create_table(
        "background_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_batch", sa.Boolean, nullable=False),
        sa.Column("requested_action", sa.String(16), nullable=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False),
        sa.Column("succeeded", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("error_reason", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("cursor", sa.JSON, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_background_jobs"),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE",
                                name="fk_background_jobs_business_id_businesses"),
    )
    op.create_index("ix_background_jobs_business_status", "background_jobs", ["business_id", "status"])
    op.create_index("ix_background_jobs_business_type_status", "background_jobs", ["business_id", "type", "status"])
    op.create_index("ix_background_jobs_status_updated", "background_jobs", ["status", "updated_at"])
    # At most one active batch job per business and type, even under concurrent requests.
    active = sa.text("is_batch AND status IN ('queued', 'running', 'paused')")
    op.create_index("uq_background_jobs_active_batch", "background_jobs", ["business_id", "type"], unique=True,
                    postgresql_where=active, sqlite_where=active)


def downgrade() -> None:
    op.drop_table("background_jobs")
    op.drop_table("businesses")
