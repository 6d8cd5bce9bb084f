"""The dashboard sections and `prosaas info` text when the broker or the database is down: said, not hidden."""
from prosaas.cli.info import info_exit_code
from prosaas.cli.info_render import render_picture
from web.resources.dashboard import templates

BROKER_DOWN = {
    "generated_at": "2026-11-23T20:00:00+00:00",
    "health": {"status": "degraded", "database": {"ok": True, "detail": "ok"},
               "broker": {"ok": False, "detail": "ConnectionError: refused"}, "jobs": {"failed": 1},
               "stale_jobs": []},
    "schedule": [], "dead_letters": [],
    "jobs": [{"id": "a" * 32, "type": "receipts_delete", "status": "failed", "business_id": 7, "queue": "maintenance",
              "progress": {"total": 0, "processed": 0, "succeeded": 0, "failed": 0, "percent": 0.0},
              "duration_s": 1.5, "created_at": "2026-11-23T19:59:00+00:00", "finished_at": "2026-11-23T19:59:01+00:00",
              "error": "RuntimeError: storage <b>down</b>", "error_reason": "RuntimeError", "attempts": 4}],
}
BROKER_DOWN["failed_jobs"] = BROKER_DOWN["jobs"]


def test_sections_say_the_broker_is_down_and_escape_error_text():
    html = templates.get_template("_sections.html").render(picture=BROKER_DOWN)
    assert "broker DOWN" in html and "ConnectionError: refused" in html
    assert "Unknown while the broker is unreachable." in html
    assert "No worker is running" not in html  # we do not know that while Redis is down
    assert "storage &lt;b&gt;down&lt;/b&gt;" in html and "<b>down</b>" not in html
    assert 'data-url="/api/jobs/' + "a" * 32 + '/retry"' in html


def test_info_text_names_the_outage_and_exits_nonzero():
    text = render_picture(BROKER_DOWN)
    assert text.splitlines()[0].startswith("database ok   broker DOWN (ConnectionError: refused)")
    assert "a" * 32 in text and "RuntimeError: storage <b>down</b>" in text  # full id: `prosaas jobs retry ID`
    assert info_exit_code(BROKER_DOWN) == 1
