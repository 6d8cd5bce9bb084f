"""Messaging: WhatsApp conversations/messages, push subscriptions/sends, reminders/sends.

Revision ID: 0003_messaging
Revises: 0001_foundation
"""
import sqlalchemy as sa
from alembic import op

from db.base import UTCDateTime

revision = "0003_messaging"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _business_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE",
                                   name=f"fk_{table}_business_id_businesses")


def upgrade() -> None:
    op.create_table(
        "whatsapp_conversations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("customer", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("last_customer_message_at", UTCDateTime(), nullable=False),
        sa.Column("last_activity_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_whatsapp_conversations"),
        _business_fk("whatsapp_conversations"),
    )
    open_only = sa.text("status = 'open'")
    op.create_index("uq_whatsapp_conversations_open", "whatsapp_conversations", ["business_id", "customer"],
                    unique=True, postgresql_where=open_only, sqlite_where=open_only)
    op.create_index("ix_whatsapp_conversations_status_last", "whatsapp_conversations",
                    ["status", "last_customer_message_at"])

    op.create_table(
        "whatsapp_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=True),
        sa.Column("message_id", sa.String(160), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("remote", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_id", sa.String(160), nullable=True),
        sa.Column("reply_to", sa.String(160), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("message_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_whatsapp_messages"),
        _business_fk("whatsapp_messages"),
        sa.ForeignKeyConstraint(["conversation_id"], ["whatsapp_conversations.id"], ondelete="SET NULL",
                                name="fk_whatsapp_messages_conversation_id_whatsapp_conversations"),
        sa.UniqueConstraint("business_id", "message_id", name="uq_whatsapp_messages_business_message"),
    )
    op.create_index("ix_whatsapp_messages_conversation", "whatsapp_messages", ["conversation_id"])

    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("p256dh", sa.String(256), nullable=False),
        sa.Column("auth", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscriptions"),
        _business_fk("push_subscriptions"),
        sa.UniqueConstraint("business_id", "endpoint", name="uq_push_subscriptions_business_endpoint"),
    )
    op.create_index("ix_push_subscriptions_business_user", "push_subscriptions", ["business_id", "user_id"])

    op.create_table(
        "notification_sends",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("notification_key", sa.String(128), nullable=False),
        sa.Column("subscription_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_sends"),
        _business_fk("notification_sends"),
        sa.ForeignKeyConstraint(["subscription_id"], ["push_subscriptions.id"], ondelete="CASCADE",
                                name="fk_notification_sends_subscription_id_push_subscriptions"),
        sa.UniqueConstraint("notification_key", "subscription_id", name="uq_notification_sends_key_subscription"),
    )
    op.create_index("ix_notification_sends_business", "notification_sends", ["business_id"])

    op.create_table(
        "reminders",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        _business_fk("reminders"),
    )
    op.create_index("ix_reminders_status_due", "reminders", ["status", "due_at"])
    op.create_index("ix_reminders_business_due", "reminders", ["business_id", "due_at"])

    op.create_table(
        "reminder_sends",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("business_id", sa.Integer, nullable=False),
        sa.Column("reminder_id", sa.String(32), nullable=False),
        sa.Column("offset_minutes", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_sends"),
        _business_fk("reminder_sends"),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminders.id"], ondelete="CASCADE",
                                name="fk_reminder_sends_reminder_id_reminders"),
        sa.UniqueConstraint("reminder_id", "offset_minutes", name="uq_reminder_sends_reminder_offset"),
    )


def downgrade() -> None:
    op.drop_table("reminder_sends")
    op.drop_table("reminders")
    op.drop_table("notification_sends")
    op.drop_table("push_subscriptions")
    op.drop_table("whatsapp_messages")
    op.drop_table("whatsapp_conversations")
