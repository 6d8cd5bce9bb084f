"""POST /api/diagnostics/ping: a tracked job through the whole pipeline, to check a deployment."""
from __future__ import annotations

import falcon
from pydantic import BaseModel, Field, model_validator

from actors.diagnostics_service import start_ping
from actors.diagnostics_work import MAX_PING_MS
from spectree import Response

from web.spec import api


class PingIn(BaseModel):
    steps: int = Field(default=0, ge=0, le=1000)
    step_ms: int = Field(default=0, ge=0, le=10_000)
    fail: bool = False

    @model_validator(mode="after")
    def _bounded(self):
        if self.steps * self.step_ms > MAX_PING_MS:
            raise ValueError(f"steps x step_ms is {self.steps * self.step_ms} ms; at most {MAX_PING_MS} ms")
        return self


class Accepted(BaseModel):
    job_id: str
    status: str


class Ping:
    auth = "business"

    @api.validate(json=PingIn, resp=Response(HTTP_202=Accepted), tags=["diagnostics"])
    def on_post(self, req, resp, json: PingIn):
        """Enqueue a diagnostic job; follow it at /api/jobs/{job_id}."""
        enqueued = start_ping(req.context.business_id, **json.model_dump())
        resp.status = falcon.HTTP_202
        # The declared model itself, not a dict: valid as built, so spectree only serializes it (pydantic's
        # encoder) where it would validate a dict against the model, then falcon encode it again.
        resp.media = Accepted(job_id=enqueued.job_id, status=enqueued.status)
