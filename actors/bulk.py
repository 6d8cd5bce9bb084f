"""Bulk actions operators start (actors/bulk_service.py): one tracked job per action, with progress."""
from __future__ import annotations

from typing import Optional

import dramatiq

from prosaas.bulk import BulkRequest, run
from prosaas.jobs import JobProgress


@dramatiq.actor(queue_name="maintenance", job_type="bulk_action", max_retries=3, min_backoff=1000,
                time_limit=4 * 3600 * 1000)
def bulk_action(business_id: int, action: str, job_filter: Optional[dict] = None, queue: Optional[str] = None,
                target_business_id: Optional[int] = None) -> dict:
    """Retry failed jobs, requeue or purge dead letters, or cancel queued jobs; resumes from its cursor."""
    request = BulkRequest.from_kwargs(action, job_filter or {}, queue, target_business_id)
    return run(bulk_action.broker, request, JobProgress.current())
