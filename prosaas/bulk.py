"""Bulk actions: retry every failed job of a filter, requeue or purge a queue's dead letters, cancel a business's
queued jobs. Each runs as a tracked job (actors/bulk.py) with progress, so 50,000 retries never block a request.

`preview` counts what an action would touch (the confirmation step); actors/bulk_service.py starts it through
the job API; `run` is the job, handed the worker's broker (whose runtime holds the jobs and dead letters).
The job walks its targets a page at a time, saves its cursor and progress after each page and honours
pause and cancel between pages; a target that no longer fits (retried or cancelled meanwhile) counts as failed.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

from db import job_store
from db.job_search import JobFilter, count_jobs, search_jobs
from db.models.core import JobControl, JobStatus
from prosaas.dead_letters import list_dead_letters, purge_dead_letters, requeue_dead_letter
from prosaas.jobs import JobProgress, control_job

ACTIONS = ("retry_failed", "requeue_dead_letters", "purge_dead_letters", "cancel_queued")
PAGE = 200
MAX_DEAD_LETTERS = 1_000_000


class BulkInputError(ValueError):
    """The action does not fit its parameters (said in words a person can act on)."""


@dataclass(frozen=True)
class BulkRequest:
    action: str
    job_filter: JobFilter = JobFilter()
    queue: Optional[str] = None
    business_id: Optional[int] = None

    def checked(self) -> "BulkRequest":
        if self.action not in ACTIONS:
            raise BulkInputError(f"action must be one of {', '.join(ACTIONS)}")
        if self.action == "retry_failed":
            if self.job_filter.status not in (None, JobStatus.FAILED):
                raise BulkInputError("retry_failed retries failed jobs: leave status out or set it to failed")
            return dataclasses.replace(self, job_filter=dataclasses.replace(self.job_filter, status=JobStatus.FAILED))
        if self.action == "cancel_queued":
            if self.business_id is None:
                raise BulkInputError("cancel_queued needs business_id")
            return dataclasses.replace(self, job_filter=JobFilter(status=JobStatus.QUEUED,
                                                                  business_id=self.business_id))
        if not self.queue:
            raise BulkInputError(f"{self.action} needs queue")
        return self

    def as_kwargs(self) -> dict[str, Any]:
        job_filter = {key: (value.isoformat() if hasattr(value, "isoformat") else value)
                      for key, value in dataclasses.asdict(self.job_filter).items() if value is not None}
        return {"action": self.action, "job_filter": job_filter, "queue": self.queue,
                "target_business_id": self.business_id}

    @classmethod
    def from_kwargs(cls, action: str, job_filter: dict, queue: Optional[str],
                    target_business_id: Optional[int]) -> "BulkRequest":
        fields = dict(job_filter or {})
        if fields.get("since"):
            fields["since"] = dt.datetime.fromisoformat(fields["since"])
        return cls(action=action, job_filter=JobFilter(**fields), queue=queue, business_id=target_business_id)


def preview(runtime, request: BulkRequest) -> int:
    """How many jobs or dead letters the action would touch now."""
    request = request.checked()
    if request.action in ("requeue_dead_letters", "purge_dead_letters"):
        return int(runtime.redis.zcard(runtime.keys.dead_letters(request.queue)))
    with runtime.database.session() as session:
        return count_jobs(session, request.job_filter)


def run(broker, request: BulkRequest, progress: Optional[JobProgress]) -> dict[str, Any]:
    """The bulk job itself, on `broker` (the worker's); returns its summary (the job's result)."""
    request = request.checked()
    if request.action == "purge_dead_letters":
        purged = purge_dead_letters(broker.runtime, request.queue)
        if progress:
            progress.update(total=purged, processed=purged, succeeded=purged)
        return {"action": request.action, "purged": purged}
    if request.action == "requeue_dead_letters":
        return _requeue_dead_letters(broker, request, progress)
    return _walk_jobs(broker, request, progress)


def _walk_jobs(broker, request: BulkRequest, progress: Optional[JobProgress]) -> dict[str, Any]:
    job = progress.load() if progress else None
    cursor = (job.cursor or {}) if job else {}
    done = {"processed": job.processed if job else 0, "succeeded": job.succeeded if job else 0,
            "failed": job.failed if job else 0}
    before_id = cursor.get("before_id")
    control = JobControl.RETRY if request.action == "retry_failed" else JobControl.CANCEL
    runtime = broker.runtime
    if progress and not job.total:
        with runtime.database.session() as session:
            progress.update(total=count_jobs(session, request.job_filter))
    while True:
        with runtime.database.session() as session:
            ids = [found.id for found in search_jobs(session, request.job_filter, before_id=before_id, limit=PAGE)]
        if not ids:
            break
        for job_id in ids:
            try:
                changed = control_job(job_id, None, control, broker=broker)
                done["succeeded" if changed is not None else "failed"] += 1
            except job_store.JobConflict:
                done["failed"] += 1
            done["processed"] += 1
        before_id = ids[-1]
        if progress:
            action = progress.update(cursor={"before_id": before_id}, **done)
            if action:
                progress.honour(action)
                return {"action": request.action, **done, "stopped": action}
    return {"action": request.action, **done}


def _requeue_dead_letters(broker, request: BulkRequest, progress: Optional[JobProgress]) -> dict[str, Any]:
    ids = [entry["redis_message_id"]
           for entry in list_dead_letters(broker.runtime, queue=request.queue, limit=MAX_DEAD_LETTERS)]
    done = {"processed": 0, "succeeded": 0, "failed": 0}
    if progress:
        progress.update(total=len(ids))
    for index, message_id in enumerate(ids, 1):
        done["succeeded" if requeue_dead_letter(broker, message_id) else "failed"] += 1
        done["processed"] += 1
        if progress and (index % PAGE == 0 or index == len(ids)):
            action = progress.update(**done)
            if action:
                progress.honour(action)
                return {"action": request.action, **done, "stopped": action}
    return {"action": request.action, **done}
