"""Log forgery: a value can never start a log line nor replace a reserved JSON key; the access log keeps the raw path.

The formatters are driven through configure_logging (the roles' own set-up); the access log through a real
`prosaas web` (gunicorn) subprocess.
"""
from __future__ import annotations

import http.client
import json
import logging
import re
from urllib.parse import urlsplit

import pytest

from prosaas.logs import log_event
from tests.support.processes import start_web, wait_for

HOSTILE = "x\nFORGED_EVENT remote=1.2.3.4 level=ERROR\r\x00\u2028y"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \[\d+\] \S+: ")


def _emit_hostile(log: logging.Logger) -> None:
    log.info("JOB_DONE job_id=%s duration_ms=%d", HOSTILE, 5)
    log.warning("TWILIO_SIGNATURE_INVALID path=%s has_signature=%s", "/a\nFORGED_EVENT x=1", False)
    log.info("FREE_FORM %s and %s", HOSTILE, "b")
    log_event(log, logging.INFO, "DASHBOARD_LOGIN", remote=HOSTILE, ts="1999", level="DEBUG", event="FORGED")
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        log.exception("HTTP_500 method=%s path=%s", "GET", HOSTILE)


def test_text_mode_no_value_starts_a_line(roles_logging):
    buffer = roles_logging("text")
    _emit_hostile(logging.getLogger("prosaas.test"))
    lines = buffer.getvalue().splitlines()
    assert lines
    for line in lines:
        assert TEXT_LINE.match(line) or line.startswith("  "), f"a value started a line: {line!r}"
    assert not any(line.lstrip().startswith("FORGED_EVENT") for line in lines)
    assert "\u2028" not in buffer.getvalue() and "\x00" not in buffer.getvalue()
    assert 'job_id="x\\nFORGED_EVENT remote=1.2.3.4 level=ERROR' in lines[0]


def test_json_mode_never_lets_a_value_replace_a_reserved_key(roles_logging):
    buffer = roles_logging("json")
    _emit_hostile(logging.getLogger("prosaas.test"))
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert len(records) == 5
    for record in records:
        assert record["level"] in ("INFO", "WARNING", "ERROR")
        assert record["ts"].endswith("Z") and record["ts"][:2] == "20"
    done, signature, free, login, failure = records
    assert done["event"] == "JOB_DONE" and done["job_id"] == HOSTILE and done["duration_ms"] == 5
    assert done["level"] == "INFO" and "remote" not in done
    assert signature["event"] == "TWILIO_SIGNATURE_INVALID" and "x" not in signature
    assert free["event"] == "FREE_FORM" and "remote" not in free and free["level"] == "INFO"
    assert login["event"] == "DASHBOARD_LOGIN" and login["level"] == "INFO" and login["remote"] == HOSTILE
    assert login["field_ts"] == "1999" and login["field_level"] == "DEBUG" and login["field_event"] == "FORGED"
    assert failure["event"] == "HTTP_500" and failure["level"] == "ERROR" and failure["path"] == HOSTILE


def test_access_log_writes_the_raw_encoded_path_on_one_line(tmp_logs):
    role, base = start_web(tmp_logs)
    try:
        target = "/nope%0AFORGED_EVENT%20remote=1.2.3.4%22%0D%00"
        connection = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=10)
        connection.request("GET", target)
        status = connection.getresponse().status
        connection.close()
        assert 400 <= status < 500
        line = wait_for(lambda: next((l for l in role.log().splitlines() if "HTTP_ACCESS" in l and "/nope" in l),
                                     None), 20, what="the access log line")
    finally:
        role.stop()
    assert target in line.replace('\\"', '"'), line
    assert not any(l.startswith("FORGED_EVENT") for l in role.log().splitlines())
