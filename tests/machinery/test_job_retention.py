"""Finished job rows are deleted after their retention, in small batches; active and recent rows stay."""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy import update

from db import job_store
from db.base import new_id, utcnow
from db.models.core import BackgroundJob


def _row(runtime, business, *, status: str, age_days: float) -> str:
    job_id = new_id()
    with runtime.database.session() as session:
        job_store.create_job(session, is_batch=False, job_id=job_id, business_id=business.id, type="retention_test",
                             actor_name="record_run", queue="default", message_id=new_id(), args={})
        moment = utcnow() - dt.timedelta(days=age_days)
        session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id).values(
            status=status, updated_at=moment, finished_at=moment if status != "queued" else None))
    return job_id


def _existing(runtime, job_ids) -> set:
    with runtime.database.session() as session:
        return set(session.scalars(sa.select(BackgroundJob.id).where(BackgroundJob.id.in_(list(job_ids)))))


def test_finished_rows_are_pruned_after_their_retention_in_batches(broker, business, runtime, caplog):
    from actors.maintenance import prune_finished_jobs
    from actors.maintenance_work import prune_finished_jobs_now

    old_completed = [_row(runtime, business, status="completed", age_days=15) for _ in range(5)]
    old_cancelled = _row(runtime, business, status="cancelled", age_days=15)
    recent_completed = _row(runtime, business, status="completed", age_days=13)
    failed_20_days = _row(runtime, business, status="failed", age_days=20)
    failed_31_days = _row(runtime, business, status="failed", age_days=31)
    old_queued = _row(runtime, business, status="queued", age_days=40)
    old_paused = _row(runtime, business, status="paused", age_days=40)
    everything = [*old_completed, old_cancelled, recent_completed, failed_20_days, failed_31_days, old_queued,
                  old_paused]
    with caplog.at_level("INFO", logger="prosaas.maintenance"):
        result = prune_finished_jobs_now(runtime.database, retention_days=runtime.settings.jobs_retention_days,
                                         failed_retention_days=runtime.settings.failed_jobs_retention_days,
                                         batch_rows=2)
    assert _existing(runtime, everything) == {recent_completed, failed_20_days, old_queued, old_paused}
    assert result["deleted"]["completed"] >= 6 and result["deleted"]["failed"] >= 1
    assert "JOBS_PRUNED completed=" in caplog.text
    assert prune_finished_jobs.queue_name == "maintenance" and prune_finished_jobs.options.get("periodic")


def test_the_redundant_business_status_index_is_gone(runtime):
    indexes = {index["name"] for index in sa.inspect(runtime.database.engine).get_indexes("background_jobs")}
    assert "ix_background_jobs_business_status" not in indexes
    assert "ix_background_jobs_business_type_status" in indexes and "ix_background_jobs_status_updated" in indexes
