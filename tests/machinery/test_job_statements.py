"""Each batch statement of db/job_statements.py against its single-row twin, over the same rows.

Two copies of the same rows, one in every status a job row can be in: one copy changed one row at a time by
the single-row statement, the other by the batch statement in one go; then both copies must read the same,
column for column, and the same rows must have been changed.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets

import pytest
from sqlalchemy import delete, select, update

from db import job_statements
from db.base import utcnow
from db.job_store import new_job_row
from db.models.core import BackgroundJob, JobStatus

NOW = utcnow()
STALE_BEFORE = NOW - dt.timedelta(seconds=60)
FRESH, STALE = NOW - dt.timedelta(seconds=5), NOW - dt.timedelta(seconds=600)

# (name, status, heartbeat_at, started_at, result): every status, running with a fresh, stale or no heartbeat.
STATES = [
    ("queued", JobStatus.QUEUED, None, None, None),
    ("queued-retried", JobStatus.QUEUED, STALE, STALE, {"kept": 1}),
    ("running-fresh", JobStatus.RUNNING, FRESH, STALE, None),
    ("running-stale", JobStatus.RUNNING, STALE, STALE, {"kept": 2}),
    ("running-silent", JobStatus.RUNNING, None, None, None),
    ("paused", JobStatus.PAUSED, STALE, STALE, None),
    ("completed", JobStatus.COMPLETED, STALE, STALE, {"done": True}),
    ("failed", JobStatus.FAILED, STALE, STALE, None),
    ("cancelled", JobStatus.CANCELLED, None, None, None),
]


@pytest.fixture
def postgres(runtime, business):
    """The run's database; the rows a test made are deleted after it (a later test's reconciler would resend
    the `queued` ones, for an actor no worker knows)."""
    if runtime.database.is_sqlite:
        pytest.skip("the batch statements are PostgreSQL's")
    yield runtime.database
    with runtime.database.transaction() as connection:
        connection.execute(delete(BackgroundJob).where(BackgroundJob.business_id == business.id))


def make_copies(database, business_id) -> dict[str, dict[str, str]]:
    """{'single'|'batch': {state name: job id}}, rows as STATES describe them."""
    tag = secrets.token_hex(3)
    copies: dict[str, dict[str, str]] = {"single": {}, "batch": {}}
    with database.transaction() as connection:
        for copy, ids in copies.items():
            for name, status, heartbeat, started, result in STATES:
                job_id = f"{copy[0]}{tag}{name}"[:32]
                row = new_job_row(job_id=job_id, business_id=business_id, type="t", actor_name="a", queue="default",
                                  message_id=job_id, args={"n": 1})
                connection.execute(job_statements.insert_job(), [row])
                connection.execute(update(BackgroundJob).where(BackgroundJob.id == job_id).values(
                    status=status, heartbeat_at=heartbeat, started_at=started, result=result, worker="old:1",
                    error="earlier" if status != JobStatus.QUEUED else None, attempts=1, created_at=STALE,
                    updated_at=STALE))
                ids[name] = job_id
    return copies


def read(database, ids: dict[str, str]) -> dict[str, dict]:
    columns = [c for c in BackgroundJob.__table__.columns if c.name not in ("id", "message_id")]
    with database.transaction() as connection:
        rows = connection.execute(select(BackgroundJob.id, *columns).where(BackgroundJob.id.in_(ids.values())))
        by_id = {row[0]: dict(zip([c.name for c in columns], row[1:])) for row in rows}
    return {name: by_id[job_id] for name, job_id in ids.items()}


def test_claim_twins_agree(postgres, business):
    copies = make_copies(postgres, business.id)
    with postgres.transaction() as connection:
        single = {name for name, job_id in copies["single"].items()
                  if connection.execute(job_statements.claim_job(job_id, worker="new:2", stale_before=STALE_BEFORE,
                                                                 now=NOW)).rowcount == 1}
        ids = list(copies["batch"].values())
        claimed = {row[0] for row in connection.exec_driver_sql(job_statements.CLAIM_JOBS_BATCH, {
            "now": NOW, "ids": ids, "workers": ["new:2"] * len(ids), "stale": [STALE_BEFORE] * len(ids)})}
    assert single == {name for name, job_id in copies["batch"].items() if job_id in claimed}
    assert single == {"queued", "queued-retried", "running-stale", "running-silent"}
    assert read(postgres, copies["single"]) == read(postgres, copies["batch"])


def test_complete_twins_agree(postgres, business):
    copies = make_copies(postgres, business.id)
    results = {name: ({"sent": index} if index % 2 else None) for index, (name, *_rest) in enumerate(STATES)}
    with postgres.transaction() as connection:
        for name, job_id in copies["single"].items():
            connection.execute(job_statements.finish_job(job_id, status=JobStatus.COMPLETED, now=NOW,
                                                         result=results[name]))
        connection.exec_driver_sql(job_statements.COMPLETE_JOBS_BATCH, {
            "now": NOW, "ids": list(copies["batch"].values()),
            "results": [None if results[name] is None else json.dumps(results[name])
                        for name in copies["batch"]]})
    single, batch = read(postgres, copies["single"]), read(postgres, copies["batch"])
    assert single == batch
    assert {name for name, row in single.items() if row["status"] == JobStatus.COMPLETED} == {
        "queued", "queued-retried", "running-fresh", "running-stale", "running-silent", "completed"}


def test_insert_twins_agree(postgres, business):
    tag = secrets.token_hex(3)
    rows = {copy: [new_job_row(job_id=f"{copy[0]}{tag}i{n}", business_id=business.id, type="t", actor_name="a",
                               queue="default", message_id=f"{copy[0]}{tag}i{n}",
                               args={"n": n, "nested": {"x": [1, None]}} if n else {})
                   for n in range(3)] for copy in ("single", "batch")}
    for copy in rows.values():  # text that needs escaping, in a column and in the JSON arguments
        copy[2]["type"] = "it's \\ \"quoted\" é 😀"
        copy[2]["args"] = {"text": "tab\tnew line\n' \" \\ é 😀", "big": 2 ** 62, "float": 0.1, "flag": True}
    for row in rows["batch"]:
        row["created_at"] = row["updated_at"] = NOW
    for row in rows["single"]:
        row["created_at"] = row["updated_at"] = NOW
    with postgres.transaction() as connection:
        for row in rows["single"]:
            connection.execute(job_statements.insert_job(), [row])
        connection.exec_driver_sql(*job_statements.insert_jobs_batch(rows["batch"]))
    single = read(postgres, {str(n): row["id"] for n, row in enumerate(rows["single"])})
    batch = read(postgres, {str(n): row["id"] for n, row in enumerate(rows["batch"])})
    assert single == batch and single["1"]["args"] == {"n": 1, "nested": {"x": [1, None]}}
    assert batch["2"]["type"] == rows["batch"][2]["type"] and batch["2"]["args"] == rows["batch"][2]["args"]


def test_no_code_but_the_job_statements_changes_a_job_row():
    """Every UPDATE/INSERT of background_jobs is spelled in db/job_statements.py (tests set rows up freely)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spelled = ("update(BackgroundJob)", "insert(BackgroundJob", "delete(BackgroundJob)", "UPDATE background_jobs",
               "INSERT INTO background_jobs", "DELETE FROM background_jobs", "BackgroundJob.__table__",
               "job.status = ", "job.requested_action = ", "job.message_id = ", "row.message_id = ")
    offenders = [f"{path.relative_to(root)}: {word}"
                 for floor in ("prosaas", "actors", "web", "db") for path in sorted((root / floor).rglob("*.py"))
                 if path.name != "job_statements.py" and "migrations" not in path.parts
                 for word in spelled if word in path.read_text()]
    assert offenders == []
