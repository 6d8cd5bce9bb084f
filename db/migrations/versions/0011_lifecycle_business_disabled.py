"""Businesses can be disabled: their key is refused and their jobs are not started.

Revision ID: 0011_lifecycle_business_disabled
Revises: 0013_legacy_stt_language
"""
import sqlalchemy as sa
from alembic import op

from db.base import UTCDateTime

revision = "0011_lifecycle_business_disabled"
down_revision = "0013_legacy_stt_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("businesses") as batch:
        batch.add_column(sa.Column("disabled_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("businesses") as batch:
        batch.drop_column("disabled_at")
