"""GET /api/jobs, GET /api/jobs/{id}, POST /api/jobs/{id}/pause|resume|cancel|retry."""
from __future__ import annotations

from typing import Optional

import falcon
from pydantic import BaseModel, Field
from spectree import Response

from db import job_store
from db.models.core import JobControl, JobStatus
from prosaas.jobs import control_job, job_staleness, job_view
from web.auth import scope
from web.spec import ErrorBody, api


class JobsQuery(BaseModel):
    status: Optional[JobStatus] = None
    type: Optional[str] = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class Progress(BaseModel):
    total: int
    processed: int
    succeeded: int
    failed: int
    percent: float


class JobOut(BaseModel):
    id: str
    type: str
    status: JobStatus
    business_id: int
    queue: str
    progress: Progress
    error: Optional[str] = Field(description="operators: the full error; a business: its class only")
    error_class: Optional[str] = None
    error_reason: Optional[str]
    attempts: int
    requested_action: Optional[str]
    result: Optional[dict]
    created_at: Optional[str]
    started_at: Optional[str]
    finished_at: Optional[str]
    heartbeat_at: Optional[str]
    updated_at: Optional[str]
    stale: Optional[bool] = None            # GET /api/jobs/{id}: the job is stuck, and why
    stale_reason: Optional[str] = None


class JobList(BaseModel):
    jobs: list[JobOut]


class JobsCollection:
    auth = "business_or_admin"

    def __init__(self, database):
        self.database = database

    @api.validate(query=JobsQuery, resp=Response(HTTP_200=JobList, HTTP_401=ErrorBody), tags=["jobs"])
    def on_get(self, req, resp, query: JobsQuery):
        """List this business's jobs, newest first."""
        with self.database.session() as session:
            jobs = job_store.list_jobs(session, business_id=scope(req), status=query.status, type=query.type,
                                       limit=query.limit, offset=query.offset)
            resp.media = {"jobs": [job_view(job, detail=req.context.is_admin) for job in jobs]}


class JobItem:
    auth = "business_or_admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(resp=Response(HTTP_200=JobOut, HTTP_404=ErrorBody), tags=["jobs"])
    def on_get(self, req, resp, job_id: str):
        """One job: status, progress with percent, timestamps, error."""
        with self.runtime.database.session() as session:
            job = job_store.get_job(session, job_id, scope(req))
            if job is None:
                raise falcon.HTTPNotFound(title="Not found", description=f"No job {job_id}.")
            resp.media = {**job_view(job, detail=req.context.is_admin), **job_staleness(self.runtime, job)}


class JobAction:
    auth = "business_or_admin"

    def __init__(self, broker):
        self.broker = broker  # sends a resumed or retried job's message

    @api.validate(resp=Response(HTTP_200=JobOut, HTTP_202=JobOut, HTTP_404=ErrorBody, HTTP_409=ErrorBody), tags=["jobs"])
    def on_post(self, req, resp, job_id: str, action: str):
        """pause | resume | cancel | retry. Batch jobs honour pause/cancel between batches."""
        if action not in tuple(JobControl):
            raise falcon.HTTPNotFound(title="Not found", description=f"Unknown job action {action!r}.")
        job = control_job(job_id, scope(req), JobControl(action), broker=self.broker)
        if job is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No job {job_id}.")
        resp.media = job_view(job, detail=req.context.is_admin)
        if job.status == JobStatus.QUEUED:
            resp.status = falcon.HTTP_202
