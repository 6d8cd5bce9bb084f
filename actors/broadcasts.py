"""The WhatsApp broadcast actor: a batch job on `broadcasts` (one active per business) that waits for
the Baileys session with growing retries (BROADCAST_RETRY_SECONDS first) instead of using up recipients."""
from __future__ import annotations

from typing import Optional

import dramatiq

from actors.broadcasts_work import send_broadcast as run_broadcast
from prosaas.clients import baileys
from prosaas.runtime import broker_runtime

# 10,000 recipients paced 3-4 s apart take about 10 hours.
BROADCAST_TIME_LIMIT_MS = 12 * 3600 * 1000
# Dramatiq's Retries takes min_backoff as a number, not a callable: read at declaration from the settings of
# the runtime the installed broker was built with.
RETRY_MIN_BACKOFF_MS = int(broker_runtime().settings.broadcast_retry_seconds * 1000)


@dramatiq.actor(queue_name="broadcasts", batch=True, job_type="whatsapp_broadcast",
                time_limit=BROADCAST_TIME_LIMIT_MS, max_retries=30, min_backoff=RETRY_MIN_BACKOFF_MS,
                max_backoff=10 * 60 * 1000)
def send_broadcast(business_id: int, broadcast_id: int) -> Optional[dict]:
    """Send the broadcast's message to each of its queued recipients, once."""
    runtime = broker_runtime()
    return run_broadcast(runtime.database, baileys.from_settings(runtime.settings), business_id, broadcast_id,
                         delay_range=runtime.settings.broadcast_delay_range)
