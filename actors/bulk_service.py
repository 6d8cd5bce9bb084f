"""Bulk actions, the service: start one as a tracked job of the operators' business (follow it at
/api/admin/jobs/{id}); prosaas/bulk.py says what each action does."""
from __future__ import annotations

import logging

from db.operators import operators_business_id
from prosaas.bulk import BulkRequest, preview
from prosaas.jobs import enqueue_tracked

from actors.bulk import bulk_action

log = logging.getLogger("prosaas.bulk")


def start_bulk(runtime, request: BulkRequest) -> tuple[str, int]:
    """Enqueue the action: (job id, targets counted now). Raises BulkInputError when it does not fit."""
    request = request.checked()
    count = preview(runtime, request)
    with runtime.database.session() as session:
        owner = operators_business_id(session)
    job_id = enqueue_tracked(bulk_action, business_id=owner, kwargs=request.as_kwargs()).job_id
    log.info("BULK_STARTED action=%s job_id=%s count=%d", request.action, job_id, count)
    return job_id, count
