"""GET /api/admin/tenants and the dashboard's tenant pages: each business's load, slots and failures (admin)."""
from __future__ import annotations

from typing import Optional

import falcon
from pydantic import BaseModel, Field
from spectree import Response

from db.job_search import JobFilter, search_jobs
from db.models.core import JobStatus
from prosaas.broker_stack import installed_broker
from prosaas.jobs import job_view
from prosaas.runtime import get_runtime
from prosaas.tenants import slot_limits, tenants as tenant_loads
from web.resources.dashboard import POLL_MS, render
from web.spec import api


def tenants(business_id=None, *, limit: int = 1000) -> list[dict]:
    """Every business's load, with the slot limits of the actors this web process declares."""
    return tenant_loads(slot_limits(installed_broker()), business_id, limit=limit)


PUBLIC_FIELDS = ("business_id", "name", "queued", "running", "waiting_for_slot", "failed_24h", "processed_24h",
                 "slots")


class TenantsQuery(BaseModel):
    limit: int = Field(default=200, ge=1, le=5000)


class Slot(BaseModel):
    in_use: int
    limit: Optional[int]  # None: an actor this web process does not declare


class TenantOut(BaseModel):
    business_id: int
    name: str
    queued: int
    running: int
    waiting_for_slot: int
    failed_24h: int
    processed_24h: int
    slots: dict[str, Slot]


class TenantsOut(BaseModel):
    tenants: list[TenantOut]


class Tenants:
    auth = "admin"

    @api.validate(query=TenantsQuery, resp=Response(HTTP_200=TenantsOut), tags=["ops"])
    def on_get(self, req, resp, query: TenantsQuery):
        """Every business, busiest first: queued, running, waiting for a slot, the last 24 h, slots per actor."""
        resp.media = {"tenants": [{field: row[field] for field in PUBLIC_FIELDS}
                                  for row in tenants(limit=query.limit)]}


def tenant_picture(business_id: int) -> Optional[dict]:
    """One business's page: its load and slots, running and queued jobs with progress, latest failures."""
    found = tenants(business_id)
    if not found:
        return None
    with get_runtime().database.session() as session:
        def jobs(status, limit):
            return [job_view(job) for job in search_jobs(session, JobFilter(status=status, business_id=business_id),
                                                         limit=limit)]
        return {"tenant": found[0], "running": jobs(JobStatus.RUNNING, 50), "queued": jobs(JobStatus.QUEUED, 20),
                "failed": jobs(JobStatus.FAILED, 20)}


class TenantsPage:
    auth = "admin"

    def on_get(self, req, resp):
        render(resp, "tenants.html", tenants=tenants(limit=500), poll_ms=POLL_MS,
               sections_url="/dashboard/tenants/sections")


class TenantsSections:
    auth = "admin"

    def on_get(self, req, resp):
        render(resp, "_tenants.html", tenants=tenants(limit=500))


class TenantPage:
    auth = "admin"

    def on_get(self, req, resp, business_id: int):
        picture = tenant_picture(business_id)
        if picture is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No business {business_id}.")
        render(resp, "tenant.html", picture=picture, poll_ms=POLL_MS,
               sections_url=f"/dashboard/tenants/{business_id}/sections")


class TenantSections:
    auth = "admin"

    def on_get(self, req, resp, business_id: int):
        picture = tenant_picture(business_id)
        if picture is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No business {business_id}.")
        render(resp, "_tenant.html", picture=picture)


def register(app, runtime):
    app.add_route("/api/admin/tenants", Tenants())
    app.add_route("/dashboard/tenants", TenantsPage())
    app.add_route("/dashboard/tenants/sections", TenantsSections())
    app.add_route("/dashboard/tenants/{business_id:int}", TenantPage())
    app.add_route("/dashboard/tenants/{business_id:int}/sections", TenantSections())
