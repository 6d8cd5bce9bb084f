"""GET /api/admin/stats: job throughput, failures, retries and durations over time, per minute or ten (admin)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field
from spectree import Response

from prosaas.job_history import stats
from prosaas.settings import ALL_QUEUES
from web.spec import api


class StatsQuery(BaseModel):
    window: Literal["1h", "24h"] = "1h"
    queue: Optional[str] = Field(default=None, pattern="^(" + "|".join(ALL_QUEUES) + ")$")


class Bucket(BaseModel):
    t: int
    processed: int
    failed: int
    retried: int
    p50_ms: Optional[int]
    p95_ms: Optional[int]


class StatsOut(BaseModel):
    window: str
    bucket_seconds: int
    buckets: list[Bucket]


class Stats:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(query=StatsQuery, resp=Response(HTTP_200=StatsOut), tags=["ops"])
    def on_get(self, req, resp, query: StatsQuery):
        """Buckets oldest first (`t`: bucket start, epoch seconds), summed over every queue unless `queue`."""
        resp.media = stats(self.runtime.redis, self.runtime.keys, ALL_QUEUES, window=query.window, queue=query.queue)
