"""Drop the (business_id, status) index on background_jobs: (business_id, type, status) and
(status, updated_at) serve every query, and each extra index is written on every job state change.

Revision ID: 0009_ledger_drop_index
Revises: 0005_merge_heads
"""
from alembic import op

revision = "0009_ledger_drop_index"
down_revision = "0005_merge_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_background_jobs_business_status", table_name="background_jobs")


def downgrade() -> None:
    op.create_index("ix_background_jobs_business_status", "background_jobs", ["business_id", "status"])
