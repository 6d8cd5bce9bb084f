"""WhatsApp webhook processing and idle-conversation cleanup.

Each incoming message is stored once (unique per business + message id); its reply is recorded as
pending before it is sent with an idempotency key derived from the incoming id, and marked sent only
when Baileys accepted it, so redelivery or a retry never produces a second reply.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from db import whatsapp_store
from db.base import utcnow
from db.models.messaging import MessageStatus
from prosaas.clients import baileys, responder
from prosaas.clients.baileys import BaileysGateway
from prosaas.clients.responder import Responder

log = logging.getLogger("prosaas.whatsapp")
IDLE_AFTER = dt.timedelta(minutes=5)
HISTORY_MESSAGES = 20


def is_ignored(message: dict[str, Any]) -> str | None:
    """Why a message gets no processing (own, group, broadcast, newsletter), or None."""
    remote = str(message.get("from") or "")
    if message.get("fromMe"):
        return "own"
    if remote.endswith("@g.us"):
        return "group"
    if remote == "status@broadcast" or remote.endswith("@broadcast"):
        return "broadcast"
    if remote.endswith("@newsletter"):
        return "newsletter"
    return None


def _message_time(value: Any) -> dt.datetime:
    try:
        seconds = float(value)
        if seconds > 1e12:  # milliseconds
            seconds /= 1000
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


def _history(session, business_id: int, conversation_id: int | None, without: str) -> list[dict]:
    """The conversation so far (for the responder), without the message being answered."""
    if conversation_id is None:
        return []
    rows = [m for m in whatsapp_store.conversation_messages(session, business_id, conversation_id)
            if m.message_id != without][-HISTORY_MESSAGES:]
    return [{"direction": m.direction, "text": m.text, "at": m.message_at.isoformat()} for m in rows]


def idempotency_key(business_id: int, incoming_message_id: str) -> str:
    return f"wa-reply:{business_id}:{incoming_message_id}"


def process_webhook(database, gateway: BaileysGateway, replies: Responder, business_id: int,
                    messages: list[dict[str, Any]]) -> dict[str, int]:
    """Store, reply to and send for each message; raises BaileysUnavailable/ResponderUnavailable to retry
    (what was done stays done) or BaileysRejected when Baileys refused a reply for good."""
    counts = {"received": len(messages), "ignored": 0, "stored": 0, "duplicates": 0, "replied": 0,
              "already_replied": 0, "no_reply": 0, "rejected": 0, "unavailable": 0}
    unavailable: Exception | None = None
    rejected: Exception | None = None
    for message in messages:
        why = is_ignored(message)
        if why:
            counts["ignored"] += 1
            log.info("WHATSAPP_IGNORED business_id=%s message_id=%s why=%s", business_id, message.get("id"), why)
            continue
        incoming_id, remote, text = str(message["id"]), str(message["from"]), message.get("text") or ""
        with database.session() as session:
            incoming, created = whatsapp_store.record_incoming(
                session, business_id=business_id, message_id=incoming_id, remote=remote, text=text,
                message_at=_message_time(message.get("timestamp")))
            reply = whatsapp_store.get_reply(session, business_id, incoming_id)
            history = (_history(session, business_id, incoming.conversation_id, incoming_id)
                       if reply is None else [])
        counts["stored" if created else "duplicates"] += 1
        if reply is not None and reply.status in (MessageStatus.SENT, MessageStatus.FAILED):
            counts["already_replied"] += 1
            continue
        if reply is None:
            reply_text = replies.reply_to(business_id, remote, text, history)
            if not reply_text:
                counts["no_reply"] += 1
                continue
            with database.session() as session:
                reply = whatsapp_store.record_pending_reply(session, incoming=incoming, text=reply_text)
            if reply.status != MessageStatus.PENDING:
                counts["already_replied"] += 1
                continue
        try:
            provider_id = gateway.send_text(business_id, reply.remote, reply.text,
                                            idempotency_key=idempotency_key(business_id, incoming_id))
        except baileys.BaileysRejected as exc:
            with database.session() as session:
                whatsapp_store.mark_reply_failed(session, business_id, reply.id, str(exc))
            counts["rejected"] += 1
            rejected = exc
            log.warning("WHATSAPP_REPLY_REJECTED business_id=%s message_id=%s status=%s", business_id,
                        incoming_id, exc.status)
            continue
        except baileys.BaileysUnavailable as exc:
            counts["unavailable"] += 1
            unavailable = exc
            log.warning("WHATSAPP_REPLY_UNAVAILABLE business_id=%s message_id=%s error=%s", business_id,
                        incoming_id, exc)
            continue
        with database.session() as session:
            whatsapp_store.mark_reply_sent(session, business_id, reply.id, provider_id)
        counts["replied"] += 1
        log.info("WHATSAPP_REPLIED business_id=%s message_id=%s provider_id=%s", business_id, incoming_id,
                 provider_id)
    if unavailable is not None:
        raise unavailable  # retry: stored messages and sent replies are skipped next time
    if rejected is not None:
        raise rejected
    return counts


def close_idle_conversations(database, replies: Responder, now: dt.datetime | None = None,
                             limit: int = 200) -> dict[str, int]:
    """Close conversations with no customer message for IDLE_AFTER, each with a summary."""
    now = now or utcnow()
    with database.session() as session:
        idle = whatsapp_store.idle_open_conversations(session, idle_before=now - IDLE_AFTER, limit=limit)
        work = [(c, [{"direction": m.direction, "text": m.text, "at": m.message_at.isoformat()}
                     for m in whatsapp_store.conversation_messages(session, c.business_id, c.id)]) for c in idle]
    counts = {"idle": len(work), "closed": 0, "reopened": 0, "summary_fallback": 0}
    for conversation, messages in work:
        try:
            summary = replies.summarize(conversation.business_id, conversation.customer, messages)
        except (responder.ResponderUnavailable, responder.ResponderRejected) as exc:
            summary = responder.rule_based_summary(messages)
            counts["summary_fallback"] += 1
            log.warning("WHATSAPP_SUMMARY_FALLBACK conversation_id=%s error=%s", conversation.id, exc)
        with database.session() as session:
            closed = whatsapp_store.close_conversation(session, conversation, summary)
        counts["closed" if closed else "reopened"] += 1
        if closed:
            log.info("WHATSAPP_CONVERSATION_CLOSED business_id=%s conversation_id=%s messages=%d",
                     conversation.business_id, conversation.id, len(messages))
    return counts
