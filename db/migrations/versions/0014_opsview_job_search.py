"""Index background_jobs by (created_at, id): the operators' job search pages newest first by that key.

Revision ID: 0014_opsview_job_search
Revises: 0011_lifecycle_business_disabled
"""
from alembic import op

revision = "0014_opsview_job_search"
down_revision = "0011_lifecycle_business_disabled"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_background_jobs_created_id", "background_jobs", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_background_jobs_created_id", table_name="background_jobs")
