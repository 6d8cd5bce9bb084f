"""GET /api/admin/tenants and the dashboard's tenant pages: each business's load, slots and failures (admin)."""
from __future__ import annotations

from typing import Optional

import falcon
from pydantic import BaseModel, Field
from spectree import Response

from prosaas.tenants import slot_limits, tenant_picture, tenants
from web.resources.dashboard import POLL_MS, render
from web.spec import api

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


class TenantResource:
    """A tenants view: reads the runtime's database and Redis, with the slot limits of the actors declared
    on `broker` (this web process's)."""

    auth = "admin"

    def __init__(self, runtime, broker):
        self.runtime = runtime
        self.broker = broker

    def tenants(self, *, limit: int) -> list[dict]:
        return tenants(self.runtime, slot_limits(self.broker), limit=limit)

    def picture(self, business_id: int) -> Optional[dict]:
        return tenant_picture(self.runtime, slot_limits(self.broker), business_id)


class Tenants(TenantResource):
    @api.validate(query=TenantsQuery, resp=Response(HTTP_200=TenantsOut), tags=["ops"])
    def on_get(self, req, resp, query: TenantsQuery):
        """Every business, busiest first: queued, running, waiting for a slot, the last 24 h, slots per actor."""
        resp.media = {"tenants": [{field: row[field] for field in PUBLIC_FIELDS}
                                  for row in self.tenants(limit=query.limit)]}


class TenantsPage(TenantResource):
    def on_get(self, req, resp):
        render(resp, "tenants.html", tenants=self.tenants(limit=500), poll_ms=POLL_MS,
               sections_url="/dashboard/tenants/sections")


class TenantsSections(TenantResource):
    def on_get(self, req, resp):
        render(resp, "_tenants.html", tenants=self.tenants(limit=500))


class TenantPage(TenantResource):
    def on_get(self, req, resp, business_id: int):
        picture = self.picture(business_id)
        if picture is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No business {business_id}.")
        render(resp, "tenant.html", picture=picture, poll_ms=POLL_MS,
               sections_url=f"/dashboard/tenants/{business_id}/sections")


class TenantSections(TenantResource):
    def on_get(self, req, resp, business_id: int):
        picture = self.picture(business_id)
        if picture is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No business {business_id}.")
        render(resp, "_tenant.html", picture=picture)
