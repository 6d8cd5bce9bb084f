"""Read-only questions operators ask of background_jobs: find jobs by filter (keyset pages), load per tenant.

Pages are newest first by (created_at, id) (index ix_background_jobs_created_id); the next page starts
before the last job of the previous one (`before_id`), so a page never shifts while new jobs arrive.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator, Optional

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from db.models.core import BackgroundJob, Business, JobStatus


@dataclass(frozen=True)
class JobFilter:
    """Which jobs: every field optional; `q` matches the id exactly, or the type or error text (any case)."""

    status: Optional[str] = None
    type: Optional[str] = None
    business_id: Optional[int] = None
    queue: Optional[str] = None
    q: Optional[str] = None
    since: Optional[dt.datetime] = None

    def conditions(self) -> list:
        found = []
        if self.status:
            found.append(BackgroundJob.status == self.status)
        if self.type:
            found.append(BackgroundJob.type == self.type)
        if self.business_id is not None:
            found.append(BackgroundJob.business_id == self.business_id)
        if self.queue:
            found.append(BackgroundJob.queue == self.queue)
        if self.q:
            found.append(or_(BackgroundJob.id == self.q,
                             BackgroundJob.type.icontains(self.q, autoescape=True),
                             BackgroundJob.error.icontains(self.q, autoescape=True)))
        if self.since is not None:
            found.append(BackgroundJob.created_at >= self.since)
        return found


def search_jobs(session: Session, job_filter: JobFilter, *, before_id: Optional[str] = None,
                limit: int = 50) -> list[BackgroundJob]:
    """One page of matching jobs, newest first, starting after the job `before_id` (None: the first page)."""
    query = select(BackgroundJob).where(*job_filter.conditions())
    if before_id:
        anchor = session.execute(select(BackgroundJob.created_at, BackgroundJob.id)
                                 .where(BackgroundJob.id == before_id)).first()
        if anchor is None:
            return []
        query = query.where(or_(BackgroundJob.created_at < anchor.created_at,
                                and_(BackgroundJob.created_at == anchor.created_at, BackgroundJob.id < anchor.id)))
    query = query.order_by(BackgroundJob.created_at.desc(), BackgroundJob.id.desc()).limit(limit)
    return list(session.scalars(query))


def matching_job_ids(session: Session, job_filter: JobFilter, *, page: int = 500) -> Iterator[list[str]]:
    """Every matching job id, newest first, a page at a time (what a bulk action walks through)."""
    before_id = None
    while True:
        jobs = search_jobs(session, job_filter, before_id=before_id, limit=page)
        if not jobs:
            return
        yield [job.id for job in jobs]
        before_id = jobs[-1].id


def count_jobs(session: Session, job_filter: JobFilter) -> int:
    return session.scalar(select(func.count()).select_from(BackgroundJob).where(*job_filter.conditions())) or 0


@dataclass
class TenantLoad:
    business_id: int
    name: str
    queued: int = 0
    running: int = 0
    failed_24h: int = 0
    processed_24h: int = 0


def tenant_loads(session: Session, *, now: dt.datetime, business_id: Optional[int] = None) -> list[TenantLoad]:
    """Every business with its active job counts and the jobs it finished (and failed) in the last 24 h."""
    businesses = select(Business.id, Business.name)
    if business_id is not None:
        businesses = businesses.where(Business.id == business_id)
    loads = {row.id: TenantLoad(row.id, row.name) for row in session.execute(businesses)}
    scoped = [BackgroundJob.business_id == business_id] if business_id is not None else []
    active = session.execute(select(BackgroundJob.business_id, BackgroundJob.status, func.count())
                             .where(BackgroundJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)), *scoped)
                             .group_by(BackgroundJob.business_id, BackgroundJob.status))
    for owner, status, count in active:
        if owner in loads:
            setattr(loads[owner], status, count)
    finished = session.execute(select(BackgroundJob.business_id, BackgroundJob.status, func.count())
                               .where(BackgroundJob.status.in_((JobStatus.COMPLETED, JobStatus.FAILED)),
                                      BackgroundJob.updated_at >= now - dt.timedelta(hours=24), *scoped)
                               .group_by(BackgroundJob.business_id, BackgroundJob.status))
    for owner, status, count in finished:
        if owner in loads:
            loads[owner].processed_24h += count
            if status == JobStatus.FAILED:
                loads[owner].failed_24h += count
    return list(loads.values())
