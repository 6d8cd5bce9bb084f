"""Merge the three first branches so that later revisions chain on one head.

Revision ID: 0005_merge_heads
Revises: 0002_recordings, 0003_messaging, 0004_batch
"""

revision = "0005_merge_heads"
down_revision = ("0002_recordings", "0003_messaging", "0004_batch")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the revision only joins the branches."""


def downgrade() -> None:
    """Nothing to undo."""
