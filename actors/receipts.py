"""The receipts deletion actor: a batch job on `maintenance` (one active per business), 30 min time limit
(RECEIPTS_DELETE_TIME_LIMIT_SECONDS); a long deletion hands itself on before it, 3 retries past it."""
from __future__ import annotations

from typing import Optional

import dramatiq

from actors.receipts_work import delete_receipts as run_deletion
from prosaas.clients import storage
from prosaas.runtime import broker_runtime

# Dramatiq's TimeLimit takes time_limit as a number, not a callable: read at declaration from the settings of
# the runtime the installed broker was built with.
DELETE_TIME_LIMIT_MS = broker_runtime().settings.receipts_delete_time_limit_seconds * 1000


@dramatiq.actor(queue_name="maintenance", batch=True, job_type="receipts_delete", time_limit=DELETE_TIME_LIMIT_MS,
                max_retries=3, min_backoff=30_000, max_backoff=300_000)
def delete_receipts(business_id: int, select_all: bool = False, ids: Optional[list[int]] = None):
    """Delete all of the business's receipts (as of the job's start) or the chosen ids, files first."""
    runtime = broker_runtime()
    settings = runtime.settings
    store = storage.from_settings(settings)  # one store per process
    return run_deletion(runtime.database, store, business_id, None if select_all else list(ids or []),
                        backoff_base_seconds=settings.receipts_backoff_base_seconds,
                        time_limit_s=DELETE_TIME_LIMIT_MS / 1000)
