"""WhatsApp conversations and messages, Web Push subscriptions and sends, reminders and their sends.

Uniqueness does the de-duplication: a message id per business, a send per (notification, subscription),
a send per (reminder, offset); concurrent workers race on the insert and only one wins.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, new_id, utcnow


class ConversationStatus:
    OPEN = "open"
    CLOSED = "closed"


class MessageStatus:
    RECEIVED = "received"   # incoming, stored
    PENDING = "pending"     # outgoing, recorded, not yet accepted by Baileys
    SENT = "sent"           # outgoing, accepted by Baileys (provider_id set)
    FAILED = "failed"       # outgoing, refused by Baileys (4xx)


class WhatsAppConversation(Base):
    __tablename__ = "whatsapp_conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer: Mapped[str] = mapped_column(String(128))  # the customer's WhatsApp JID
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.OPEN)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_customer_message_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_activity_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)
    summary: Mapped[Optional[str]] = mapped_column(Text, nullable=True)

    __table_args__ = (
        # At most one open conversation per customer of a business.
        Index("uq_whatsapp_conversations_open", "business_id", "customer", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_whatsapp_conversations_status_last", "status", "last_customer_message_at"),
    )


class WhatsAppMessage(Base):
    __tablename__ = "whatsapp_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    conversation_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("whatsapp_conversations.id", ondelete="SET NULL"), nullable=True)
    # Incoming: the WhatsApp message id. Outgoing reply: "reply:<incoming id>" (one reply per message).
    message_id: Mapped[str] = mapped_column(String(160))
    direction: Mapped[str] = mapped_column(String(8))  # "in" | "out"
    remote: Mapped[str] = mapped_column(String(128))   # the customer's JID
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[Optional[str]] = mapped_column(String(160), nullable=True)
    reply_to: Mapped[Optional[str]] = mapped_column(String(160), nullable=True)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    message_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("business_id", "message_id", name="uq_whatsapp_messages_business_message"),
        Index("ix_whatsapp_messages_conversation", "conversation_id"),
    )


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    endpoint: Mapped[str] = mapped_column(String(2048))
    p256dh: Mapped[str] = mapped_column(String(256))
    auth: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("business_id", "endpoint", name="uq_push_subscriptions_business_endpoint"),
        Index("ix_push_subscriptions_business_user", "business_id", "user_id"),
    )


class SendStatus:
    SENDING = "sending"  # claimed; the push service may or may not have it (resent with the same Topic)
    SENT = "sent"
    GONE = "gone"        # 404/410: subscription disabled
    FAILED = "failed"    # refused for good (other 4xx)


class NotificationSend(Base):
    """One notification (`notification_key`: a job id, or reminder:<id>:<offset>) to one subscription."""

    __tablename__ = "notification_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    notification_key: Mapped[str] = mapped_column(String(128))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=SendStatus.SENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("notification_key", "subscription_id", name="uq_notification_sends_key_subscription"),
        Index("ix_notification_sends_business", "business_id"),
    )


class ReminderStatus:
    PENDING = "pending"
    DONE = "done"


class Reminder(Base):
    __tablename__ = "reminders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))  # the creator, who gets the pushes
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # stored in UTC
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_reminders_status_due", "status", "due_at"),
        Index("ix_reminders_business_due", "business_id", "due_at"),
    )


class ReminderSendStatus:
    CLAIMED = "claimed"    # this tick owns the offset; its push job is being enqueued
    ENQUEUED = "enqueued"  # the push job exists (job_id)
    SKIPPED = "skipped"    # superseded by a later offset (a missed tick): never sent


class ReminderSend(Base):
    """Exactly one row per reminder and offset: the insert that wins is the one that notifies."""

    __tablename__ = "reminder_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    reminder_id: Mapped[str] = mapped_column(ForeignKey("reminders.id", ondelete="CASCADE"))
    offset_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ReminderSendStatus.CLAIMED)
    job_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("reminder_id", "offset_minutes", name="uq_reminder_sends_reminder_offset"),
    )
