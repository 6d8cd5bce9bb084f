"""Logging set-up: key=value event lines, as text or JSON by LOG_FORMAT."""
from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, _, rest = message.partition(" ")
        payload = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                   "level": record.levelname, "logger": record.name, "message": message}
        if event.isupper() and "_" in event:
            payload["event"] = event
            for token in rest.split():
                key, sep, value = token.partition("=")
                if sep:
                    payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """logging.Formatter's text lines, with the date and time formatted once per second, not per record."""

    def __init__(self, fmt: str = TEXT_FORMAT):
        super().__init__(fmt)
        self._cached = (None, "")  # (second, its formatted stamp): one attribute, so threads see a pair

    def formatTime(self, record: logging.LogRecord, datefmt=None) -> str:
        second = int(record.created)
        cached_second, stamp = self._cached
        if second != cached_second:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._cached = (second, stamp)
        return f"{stamp},{int(record.msecs):03d}"


def configure_logging(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    # Our formats use neither the caller's file/line nor the thread: skip looking them up for every record
    # (a worker writes two lines per job).
    logging._srcfile = None
    logging.logThreads = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "urllib3", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
