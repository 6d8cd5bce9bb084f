"""GET /api/admin/jobs (search every business's jobs, keyset pages) and GET /api/admin/jobs/{id} (the detail)."""
from __future__ import annotations

import datetime as dt
from typing import Literal, Optional

import falcon
from pydantic import BaseModel, Field
from spectree import Response

from actors.bulk_service import start_bulk
from db.job_search import JobFilter
from prosaas.bulk import BulkInputError, BulkRequest, preview
from prosaas.job_lookup import find_jobs, job_detail
from prosaas.settings import ALL_QUEUES
from web.spec import ErrorBody, api

STATUS = Literal["queued", "running", "paused", "completed", "failed", "cancelled"]
QUEUE_PATTERN = "^(" + "|".join(ALL_QUEUES) + ")$"
JOB_ID_PATTERN = "^[0-9a-f]{1,32}$"


class JobFilterIn(BaseModel):
    """The filter fields shared by the search and the bulk actions."""

    status: Optional[STATUS] = None
    type: Optional[str] = Field(default=None, min_length=1, max_length=64)
    business_id: Optional[int] = Field(default=None, ge=1, le=2**31 - 1)
    queue: Optional[str] = Field(default=None, pattern=QUEUE_PATTERN)
    q: Optional[str] = Field(default=None, min_length=1, max_length=200)
    since: Optional[dt.datetime] = None

    def to_filter(self) -> JobFilter:
        since = self.since
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
        return JobFilter(status=self.status, type=self.type, business_id=self.business_id, queue=self.queue,
                         q=self.q, since=since)


class JobSearchQuery(JobFilterIn):
    before_id: Optional[str] = Field(default=None, pattern=JOB_ID_PATTERN)
    limit: int = Field(default=50, ge=1, le=500)


class JobPage(BaseModel):
    jobs: list[dict]
    next_before_id: Optional[str]


class AdminJobs:
    auth = "admin"

    def __init__(self, database):
        self.database = database

    @api.validate(query=JobSearchQuery, resp=Response(HTTP_200=JobPage), tags=["ops"])
    def on_get(self, req, resp, query: JobSearchQuery):
        """Every business's jobs, newest first; `q` matches the id, type or error text; pass `next_before_id`
        as `before_id` for the next page."""
        resp.media = find_jobs(self.database, query.to_filter(), before_id=query.before_id, limit=query.limit)


class AdminJob:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(resp=Response("HTTP_200", HTTP_404=ErrorBody), tags=["ops"])
    def on_get(self, req, resp, job_id: str):
        """The job with its arguments, each attempt (worker, start, end, error), progress and dead letter."""
        detail = job_detail(self.runtime, job_id) if len(job_id) <= 32 else None
        if detail is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No job {job_id[:40]}.")
        resp.media = detail


class BulkIn(BaseModel):
    action: Literal["retry_failed", "requeue_dead_letters", "purge_dead_letters", "cancel_queued"]
    filter: JobFilterIn = Field(default_factory=JobFilterIn)
    queue: Optional[str] = Field(default=None, pattern=QUEUE_PATTERN)
    business_id: Optional[int] = Field(default=None, ge=1, le=2**31 - 1)
    confirm: bool = False


class BulkAnswer(BaseModel):
    action: str
    count: int
    job_id: Optional[str] = None


class BulkActions:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(json=BulkIn, resp=Response(HTTP_200=BulkAnswer, HTTP_202=BulkAnswer, HTTP_422=ErrorBody),
                  tags=["ops"])
    def on_post(self, req, resp, json: BulkIn):
        """Without `confirm`: how many jobs or dead letters the action would touch (200). With it: the action
        starts as a tracked job (202 {"job_id", "count"}); follow it at GET /api/admin/jobs/{job_id}."""
        request = BulkRequest(action=json.action, job_filter=json.filter.to_filter(), queue=json.queue,
                              business_id=json.business_id)
        try:
            if not json.confirm:
                resp.media = {"action": json.action, "count": preview(self.runtime, request)}
                return
            job_id, count = start_bulk(self.runtime, request)
        except BulkInputError as exc:
            raise falcon.HTTPUnprocessableEntity(title="Invalid request", description=str(exc)) from None
        resp.status = falcon.HTTP_202
        resp.media = {"action": json.action, "count": count, "job_id": job_id}
