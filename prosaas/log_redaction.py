"""Keep job arguments out of every log line: Dramatiq prints a message as `actor(args, kwargs)`.

Dramatiq's worker logs "Failed to process message %s …", "Message %s was skipped." and (at DEBUG)
"Received message %s …" with the message itself as the argument, and a message's str() is its actor
call with every argument: phone numbers, texts, push bodies; every actor logs (at DEBUG) "Received
args=%r kwargs=%r.". Installed once per process (broker import), a log-record factory replaces any
Dramatiq message among a record's arguments by its identifiers, and those two arguments by a
placeholder, so this holds for every logger and handler of the process (ours, Dramatiq's CLI set-up,
gunicorn's).
"""
from __future__ import annotations

import logging

from dramatiq.broker import MessageProxy
from dramatiq.message import Message

_MESSAGE_TYPES = (Message, MessageProxy)
ACTOR_CALL_LINE = "Received args=%r kwargs=%r."  # dramatiq.actor.Actor.__call__, at DEBUG
REDACTED = "<redacted>"


class RedactedMessage:
    """What a log line shows of a message: actor, message id and job id, never its arguments."""

    __slots__ = ("text",)

    def __init__(self, message):
        job_id = (message.options or {}).get("job_id", "-")
        self.text = f"{message.actor_name}(message_id={message.message_id} job_id={job_id})"

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def redact(value):
    return RedactedMessage(value) if isinstance(value, _MESSAGE_TYPES) else value


def _redacting_factory(previous):
    def make_record(*args, **kwargs):
        record = previous(*args, **kwargs)
        if record.msg == ACTOR_CALL_LINE:
            record.args = (REDACTED, REDACTED)
        elif isinstance(record.args, tuple) and any(isinstance(a, _MESSAGE_TYPES) for a in record.args):
            record.args = tuple(redact(a) for a in record.args)
        elif isinstance(record.args, dict) and any(isinstance(a, _MESSAGE_TYPES) for a in record.args.values()):
            record.args = {k: redact(v) for k, v in record.args.items()}
        if isinstance(record.msg, _MESSAGE_TYPES):
            record.msg = redact(record.msg)
        return record
    make_record.prosaas_redacts_messages = True
    return make_record


def install_message_redaction() -> None:
    """Make every log record of this process show messages without their arguments (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "prosaas_redacts_messages", False):
        logging.setLogRecordFactory(_redacting_factory(current))
