"""Logging set-up: events (a name plus fields handed over as data), written as escaped text or JSON by LOG_FORMAT.

    log_event(log, logging.INFO, "DASHBOARD_LOGIN", remote=address)  # the way to log an event
    log.info("JOB_DONE job_id=%s duration_ms=%d", job_id, ms)        # older style: names from the template

A value never shapes the line: text mode escapes control characters (no value starts a line) and quotes a
value holding a space, quote or `=`; JSON mode keeps `ts`, `level`, `logger`, `event`, `message`, `exc` for
itself (a field of that name is written as `field_<name>`). With the older style the event name and field
names come from the format string in the code and the values from its arguments, never from the formatted
text, so `job_id="x level=ERROR"` stays one value.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import time
import traceback
from typing import Any, Optional

from prosaas.log_handler import EventStreamHandler

EVENT_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
# key=%s, key="%s", key=%d, key=%.1f ... in a format string: one field per placeholder.
TEMPLATE_FIELD = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)=("?)(%[-#0 +]*\d*(?:\.\d+)?[sdifrx])\2(?=\s|$)')
PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
RESERVED_KEYS = ("ts", "level", "logger", "event", "message", "exc")
UNSAFE_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
NEEDS_QUOTES = re.compile(r'[\s"=]')
PLAIN_VALUE_SPOILER = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029\\\s"=]')
ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape_match(match: re.Match) -> str:
    char = match.group()
    return ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_text(text: str) -> str:
    """Control characters (and line/paragraph separators, and the backslash) as visible escapes."""
    return UNSAFE_CHARACTER.sub(_escape_match, text) if UNSAFE_CHARACTER.search(text) else text


def text_value(value: Any) -> str:
    if value.__class__ is int:
        return str(value)
    text = "-" if value is None else str(value)
    if text and not PLAIN_VALUE_SPOILER.search(text):  # the common case: one regex search, nothing to do
        return text
    text = escape_text(text)
    if not text or NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def _inline_value(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return value
    return escape_text(str(value)).replace('"', '\\"')


def log_event(logger: logging.Logger, level: int, event: str, /, **fields: Any) -> None:
    """Log one event: `event` is a constant NAME_LIKE_THIS from the code, `fields` are data (any names).

    When the only handler the record would reach is the one configure_logging installed, the line is
    formatted and written straight away, without building a LogRecord: the same line, a fraction of the
    cost (a worker writes two per job). Any other set-up (a test's capture handler, a filter, a logger
    with its own handler) gets the record through `logging` as usual.
    """
    if logger.isEnabledFor(level):
        handler = _sole_event_handler(logger, level)
        if handler is None or not handler.write_event(level, logger.name, event, fields):
            logger.log(level, event, extra={"event_fields": fields})


def _sole_event_handler(logger: logging.Logger, level: int) -> Optional["EventStreamHandler"]:
    """The EventStreamHandler that alone would handle a record of `logger` at `level`, or None."""
    node = logger
    while node is not None:
        if node.filters or node.disabled:
            return None
        if node.handlers:
            handlers = node.handlers
            if (node.parent is None and len(handlers) == 1 and type(handlers[0]) is EventStreamHandler
                    and not handlers[0].filters and level >= handlers[0].level):
                return handlers[0]
            return None
        if not node.propagate:
            return None
        node = node.parent
    return None


@functools.lru_cache(maxsize=2048)
def _template_plan(template: str) -> tuple[Optional[str], tuple, str]:
    """(event name, field name or None per placeholder, the template with each field as `key=%s`).

    Templates are constants in the code, so each is read once.
    """
    event = template.split(" ", 1)[0]
    if not EVENT_NAME.match(event):
        return None, (), template
    names = {m.start(3): m.group(1) for m in TEMPLATE_FIELD.finditer(template)}
    positions = [m.start() for m in PLACEHOLDER.finditer(template.replace("%%", "\0\0"))]
    return event, tuple(names.get(pos) for pos in positions), TEMPLATE_FIELD.sub(r"\1=%s", template)


def event_of(record: logging.LogRecord) -> tuple[str | None, dict[str, Any]]:
    """(event name, fields) of a record, taken from data: log_event's fields, or the template's args."""
    if not isinstance(record.msg, str):
        return None, {}
    event, names, _ = _template_plan(record.msg)
    if event is None:
        return None, {}
    fields = getattr(record, "event_fields", None)
    if fields is not None:
        return event, dict(fields)
    args = record.args if isinstance(record.args, tuple) else ()
    if len(names) != len(args):
        return event, {}
    return event, {name: arg for name, arg in zip(names, args) if name is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event, fields = event_of(record)
        message = (_event_text(event, fields) if event and getattr(record, "event_fields", None) is not None
                   else record.getMessage())
        payload = _json_payload(record.created, record.levelname, record.name, event, fields, message)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)

    def format_event(self, created: float, level: int, logger_name: str, event: str, fields: dict) -> str:
        """The line `format` gives an event record of log_event without exception, from its parts."""
        return json.dumps(_json_payload(created, logging.getLevelName(level), logger_name, event, fields,
                                        _event_text(event, fields)))


def _json_payload(created, levelname, logger_name, event, fields, message) -> dict[str, Any]:
    payload: dict[str, Any] = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + "Z",
                               "level": levelname, "logger": logger_name, "message": message}
    if event:
        payload["event"] = event
    for key, value in fields.items():
        name = f"field_{key}" if key in RESERVED_KEYS else key
        payload[name] = value if isinstance(value, (int, float, bool)) or value is None else str(value)
    return payload


def _event_text(event: str, fields: dict) -> str:
    """`EVENT key=value ...`, each value escaped and quoted when it must be."""
    return " ".join([escape_text(event), *[f"{k}={text_value(v)}" for k, v in fields.items()]])


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """One line per record: `stamp LEVEL [pid] logger: EVENT key=value ...`, every value escaped.

    A traceback follows on lines indented by two spaces, its exception's message escaped onto one of them.
    The date and time are formatted once per second, not per record.
    """

    def __init__(self, fmt: str = TEXT_FORMAT):
        super().__init__(fmt)
        self._cached = (None, "")  # (second, its formatted stamp): one attribute, so threads see a pair

    def formatTime(self, record: logging.LogRecord, datefmt=None) -> str:
        return self._stamp(record.created)

    def _stamp(self, created: float) -> str:
        second = int(created)
        cached_second, stamp = self._cached
        if second != cached_second:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._cached = (second, stamp)
        return f"{stamp},{int((created - second) * 1000):03d}"

    def format_event(self, created: float, level: int, logger_name: str, event: str, fields: dict) -> Optional[str]:
        """The line `format` gives an event record of log_event without exception, from its parts (None for
        a format other than TEXT_FORMAT: the caller then goes through a LogRecord)."""
        if self._fmt != TEXT_FORMAT:
            return None
        return (f"{self._stamp(created)} {logging.getLevelName(level)} [{process_id()}] {logger_name}: "
                f"{_event_text(event, fields)}")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = self._message(record)
        return super().formatMessage(record)

    @staticmethod
    def _message(record: logging.LogRecord) -> str:
        fields = getattr(record, "event_fields", None)
        if fields is not None and isinstance(record.msg, str):
            return _event_text(record.msg, fields)
        args = record.args if isinstance(record.args, tuple) else ()
        if not args or not isinstance(record.msg, str):
            return escape_text(record.getMessage())
        # A `key=%s` placeholder gets a quoted-when-needed value; any other one an escaped value.
        event, names, fields_template = _template_plan(record.msg)
        try:
            if event is not None and len(names) == len(args):
                return fields_template % tuple(text_value(a) if name else _inline_value(a)
                                               for name, a in zip(names, args))
            return record.msg % tuple(_inline_value(a) for a in args)
        except (TypeError, ValueError):
            return escape_text(record.getMessage())

    def formatException(self, ei) -> str:
        # Frames keep their lines; an exception's message (which may quote input) stays on one line.
        lines = []
        for chunk in traceback.TracebackException(ei[0], ei[1], ei[2]).format():
            body = chunk.rstrip("\n")
            lines.extend(body.split("\n") if chunk.startswith("  File ") else [body])
        return "\n".join("  " + escape_text(line) for line in lines)

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("  " + escape_text(line) for line in stack_info.splitlines())


_process_id = os.getpid()


def _forked() -> None:
    global _process_id
    _process_id = os.getpid()


os.register_at_fork(after_in_child=_forked)


def process_id() -> int:
    """This process's id, read once (and again after a fork) rather than by a system call per line."""
    return _process_id


def configure_logging(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    # Our formats use neither the caller's file/line, the thread nor the multiprocessing name: skip looking
    # them up for every record (a worker writes two lines per job).
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = EventStreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "urllib3", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
