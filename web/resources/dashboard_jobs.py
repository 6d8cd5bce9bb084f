"""The dashboard's job finder: a filter bar over GET /api/admin/jobs, a detail panel and bulk actions (admin)."""
from __future__ import annotations

from urllib.parse import urlencode

from pydantic import ValidationError

from prosaas.job_lookup import find_jobs
from prosaas.settings import ALL_QUEUES
from web.resources.admin_jobs import JobSearchQuery
from web.resources.dashboard import render

FILTER_FIELDS = ("status", "type", "business_id", "queue", "q", "since")


class DashboardJobs:
    auth = "admin"

    def __init__(self, database):
        self.database = database

    def on_get(self, req, resp):
        raw = {name: req.get_param(name) for name in (*FILTER_FIELDS, "before_id") if req.get_param(name)}
        error, page = None, {"jobs": [], "next_before_id": None}
        try:
            query = JobSearchQuery(**raw)
            page = find_jobs(self.database, query.to_filter(), before_id=query.before_id, limit=query.limit)
        except ValidationError as exc:
            error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        filters = {name: raw.get(name, "") for name in FILTER_FIELDS}
        next_query = urlencode({k: v for k, v in raw.items() if k != "before_id"})
        render(resp, "jobs.html", page=page, filters=filters, error=error, queues=ALL_QUEUES,
               statuses=("queued", "running", "paused", "completed", "failed", "cancelled"), next_query=next_query)
