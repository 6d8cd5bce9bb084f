"""A business's own transcription language (overrides TRANSCRIPTION_LANGUAGE; NULL: the setting's).

Revision ID: 0013_legacy_stt_language
Revises: 0009_ledger_drop_index
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_legacy_stt_language"
down_revision = "0009_ledger_drop_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("businesses", sa.Column("transcription_language", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("businesses") as batch:
        batch.drop_column("transcription_language")
