"""Reads and writes of WhatsApp messages and conversations; uniqueness makes redelivery harmless."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models.messaging import ConversationStatus, MessageStatus, WhatsAppConversation, WhatsAppMessage

REPLY_PREFIX = "reply:"


def get_message(session: Session, business_id: int, message_id: str) -> Optional[WhatsAppMessage]:
    return session.scalars(select(WhatsAppMessage).where(WhatsAppMessage.business_id == business_id,
                                                         WhatsAppMessage.message_id == message_id)).first()


def _open_conversation(session: Session, business_id: int, customer: str) -> WhatsAppConversation:
    query = select(WhatsAppConversation).where(WhatsAppConversation.business_id == business_id,
                                               WhatsAppConversation.customer == customer,
                                               WhatsAppConversation.status == ConversationStatus.OPEN)
    conversation = session.scalars(query).first()
    if conversation is not None:
        return conversation
    now = utcnow()
    try:
        with session.begin_nested():
            conversation = WhatsAppConversation(business_id=business_id, customer=customer,
                                                status=ConversationStatus.OPEN, opened_at=now,
                                                last_customer_message_at=now, last_activity_at=now)
            session.add(conversation)
            session.flush()
        return conversation
    except IntegrityError:  # another worker opened it first
        return session.scalars(query).one()


def record_incoming(session: Session, *, business_id: int, message_id: str, remote: str, text: str,
                    message_at: dt.datetime) -> tuple[WhatsAppMessage, bool]:
    """Store an incoming message once; returns (row, created). Only a new message touches its conversation."""
    existing = get_message(session, business_id, message_id)
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            message = WhatsAppMessage(business_id=business_id, message_id=message_id, direction="in",
                                      remote=remote, text=text, status=MessageStatus.RECEIVED,
                                      message_at=message_at, created_at=utcnow())
            session.add(message)
            session.flush()
    except IntegrityError:
        return get_message(session, business_id, message_id), False
    conversation = _open_conversation(session, business_id, remote)
    message.conversation_id = conversation.id
    received = utcnow()
    if conversation.last_customer_message_at is None or conversation.last_customer_message_at < received:
        conversation.last_customer_message_at = received
    conversation.last_activity_at = received
    session.flush()
    return message, True


def reply_key(incoming_message_id: str) -> str:
    return f"{REPLY_PREFIX}{incoming_message_id}"


def get_reply(session: Session, business_id: int, incoming_message_id: str) -> Optional[WhatsAppMessage]:
    return get_message(session, business_id, reply_key(incoming_message_id))


def record_pending_reply(session: Session, *, incoming: WhatsAppMessage, text: str) -> WhatsAppMessage:
    """Record the reply before sending it (status pending); if one exists already, return that one."""
    existing = get_reply(session, incoming.business_id, incoming.message_id)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            reply = WhatsAppMessage(business_id=incoming.business_id, conversation_id=incoming.conversation_id,
                                    message_id=reply_key(incoming.message_id), direction="out",
                                    remote=incoming.remote, text=text, status=MessageStatus.PENDING,
                                    reply_to=incoming.message_id, message_at=utcnow(), created_at=utcnow())
            session.add(reply)
            session.flush()
        return reply
    except IntegrityError:
        return get_reply(session, incoming.business_id, incoming.message_id)


def mark_reply_sent(session: Session, business_id: int, reply_id: int, provider_id: str) -> None:
    now = utcnow()
    session.execute(update(WhatsAppMessage).where(WhatsAppMessage.id == reply_id,
                                                  WhatsAppMessage.business_id == business_id)
                    .values(status=MessageStatus.SENT, provider_id=provider_id, sent_at=now, error=None))
    reply = session.get(WhatsAppMessage, reply_id)
    if reply is not None and reply.conversation_id is not None:
        session.execute(update(WhatsAppConversation).where(WhatsAppConversation.id == reply.conversation_id)
                        .values(last_activity_at=now))


def mark_reply_failed(session: Session, business_id: int, reply_id: int, error: str) -> None:
    session.execute(update(WhatsAppMessage).where(WhatsAppMessage.id == reply_id,
                                                  WhatsAppMessage.business_id == business_id)
                    .values(status=MessageStatus.FAILED, error=error[:1000]))


def conversation_messages(session: Session, business_id: int, conversation_id: int,
                          limit: int = 200) -> list[WhatsAppMessage]:
    return list(session.scalars(select(WhatsAppMessage).where(
        WhatsAppMessage.business_id == business_id, WhatsAppMessage.conversation_id == conversation_id)
        .order_by(WhatsAppMessage.id).limit(limit)))


def idle_open_conversations(session: Session, *, idle_before: dt.datetime,
                            limit: int = 200) -> list[WhatsAppConversation]:
    """Open conversations (of every business) with no customer message since `idle_before`."""
    return list(session.scalars(select(WhatsAppConversation).where(
        WhatsAppConversation.status == ConversationStatus.OPEN,
        WhatsAppConversation.last_customer_message_at < idle_before)
        .order_by(WhatsAppConversation.last_customer_message_at).limit(limit)))


def close_conversation(session: Session, conversation: WhatsAppConversation, summary: str) -> bool:
    """Close it unless a customer message arrived since it was read (then it stays open)."""
    result = session.execute(update(WhatsAppConversation).where(
        WhatsAppConversation.id == conversation.id,
        WhatsAppConversation.business_id == conversation.business_id,
        WhatsAppConversation.status == ConversationStatus.OPEN,
        WhatsAppConversation.last_customer_message_at == conversation.last_customer_message_at)
        .values(status=ConversationStatus.CLOSED, closed_at=utcnow(), summary=summary)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1
