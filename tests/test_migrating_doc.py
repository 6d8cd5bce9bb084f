"""docs/MIGRATING.md: linked from the README, covers the names operators have, and names only real events."""
import re

from tests.support.environment import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "MIGRATING.md"


def test_the_guide_is_linked_and_covers_the_old_names():
    guide = GUIDE.read_text()
    assert "(docs/MIGRATING.md)" in (REPO_ROOT / "README.md").read_text()
    for name in ("RECORDING WORKER STARTED", "WORKER_RELEASE_SLOT", "Enqueued webhook_process_job", "Batch complete",
                 "SERVICE_ROLE", "RQ_QUEUES", "ENABLE_SCHEDULERS", "RUN_MIGRATIONS", "delete_receipts_all",
                 "`broadcast`", "receipts_sync", "/api/jobs/worker/config", "listens_to_maintenance", "started",
                 "finished"):
        assert name in guide, name
    for out_of_scope in ("realtime call media", "Gmail sync", "lead management"):
        assert out_of_scope in guide and "not part of prosaas" in guide
    assert "../" not in guide and "SPEC" not in guide  # stands on its own


def test_every_prosaas_event_the_guide_names_is_logged_somewhere():
    guide = GUIDE.read_text()
    source = "\n".join(path.read_text() for folder in ("prosaas", "actors", "web", "db")
                       for path in (REPO_ROOT / folder).rglob("*.py"))
    prosaas_column = "\n".join(line.split(" | ", 1)[1] for line in guide.splitlines()
                               if line.startswith("| ") and " | " in line)  # every column but the old name
    events = set(re.findall(r"`([A-Z]+(?:_[A-Z]+)+)\b", prosaas_column)) - {"SERVICE_ROLE", "WORKER_QUEUES",
                                                                            "RUN_MIGRATIONS", "SCHEDULER_TIMEZONE",
                                                                            "TRANSCRIPTION_LANGUAGE", "LOG_FORMAT",
                                                                            "RECORDINGS_RETENTION_DAYS",
                                                                            "RECORDINGS_DELETE_AT_TWILIO",
                                                                            "RECEIPTS_DELETE_TIME_LIMIT_SECONDS",
                                                                            "WORKER_HEARTBEAT_SECONDS",
                                                                            "PROSAAS_REDIS_NAMESPACE"}
    assert {"WORKER_STARTED", "SLOT_RELEASED", "JOB_ENQUEUED", "RECEIPTS_DELETE", "JOB_HANDED_ON"} <= events
    # An event may be written with its last word filled in (`"SESSION_%s"` for SESSION_RETRY/FAILED).
    missing = sorted(event for event in events
                     if event not in source and re.sub(r"_[A-Z]+$", "_%s", event) not in source)
    assert not missing, f"the guide names events prosaas never logs: {missing}"
