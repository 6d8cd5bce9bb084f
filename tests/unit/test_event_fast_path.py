"""log_event writes its line without a LogRecord when the roles' handler alone would get it: same line, and
any other set-up (a capture handler, a filter, a logger's own handler) still gets a real record."""
from __future__ import annotations

import io
import json
import logging

import pytest

from prosaas.logs import EventStreamHandler, JsonFormatter, TextFormatter, log_event

FIELDS = {"queue": "default", "job_id": "j-1", "attempt": 2, "error": 'bad "quote"\nnext', "none": None,
          "ts": "1999"}


def _through_a_record(fmt: str, created: float) -> str:
    """The line the formatter gives the LogRecord that log_event would have made."""
    record = logging.getLogger("prosaas.jobs").makeRecord("prosaas.jobs", logging.WARNING, "(unknown file)", 0,
                                                          "JOB_PICKED", (), None, extra={"event_fields": FIELDS})
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
    return (JsonFormatter() if fmt == "json" else TextFormatter()).format(record)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_direct_line_is_the_line_a_record_gives(roles_logging, fmt, monkeypatch):
    buffer = roles_logging(fmt)
    assert type(logging.getLogger().handlers[0]) is EventStreamHandler
    made = []
    monkeypatch.setattr(logging, "LogRecord", lambda *a, **k: made.append(a))  # a record built would show here
    monkeypatch.setattr("time.time", lambda: 1764000000.25)
    log_event(logging.getLogger("prosaas.jobs"), logging.WARNING, "JOB_PICKED", **FIELDS)
    monkeypatch.undo()
    assert made == []
    assert buffer.getvalue() == _through_a_record(fmt, 1764000000.25) + "\n"
    if fmt == "json":
        assert json.loads(buffer.getvalue())["field_ts"] == "1999"


def test_a_capture_handler_filter_or_own_handler_gets_a_real_record(roles_logging, caplog):
    buffer = roles_logging("text")
    log = logging.getLogger("prosaas.jobs")
    logging.getLogger().addHandler(caplog.handler)  # (configure_logging replaced the root's handlers)
    with caplog.at_level(logging.INFO):  # pytest's capture handler on the root: two handlers, no direct write
        log_event(log, logging.INFO, "JOB_DONE", job_id="j-2", duration_ms=3)
    assert [r.event_fields for r in caplog.records if r.msg == "JOB_DONE"] == [{"job_id": "j-2", "duration_ms": 3}]
    assert "JOB_DONE job_id=j-2 duration_ms=3" in buffer.getvalue()

    dropped = logging.Filter("nothing.matches")
    log.addFilter(dropped)
    try:
        log_event(log, logging.INFO, "JOB_DONE", job_id="j-3")
    finally:
        log.removeFilter(dropped)
    assert "j-3" not in buffer.getvalue()

    own = io.StringIO()
    handler = logging.StreamHandler(own)
    log.addHandler(handler)
    try:
        log_event(log, logging.INFO, "JOB_DONE", job_id="j-4")
    finally:
        log.removeHandler(handler)
    assert own.getvalue() == "JOB_DONE\n" and "JOB_DONE job_id=j-4" in buffer.getvalue()  # a plain handler: msg only


def test_below_the_level_nothing_is_written(roles_logging):
    buffer = roles_logging("text")
    log_event(logging.getLogger("prosaas.jobs"), logging.DEBUG, "JOB_PICKED", job_id="j-5")
    assert buffer.getvalue() == ""
