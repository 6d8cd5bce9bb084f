"""The push-send actor: Web Push to every subscription of a user (API `POST /api/notifications`, reminders)."""
from __future__ import annotations

from typing import Optional

import dramatiq

from actors.push_work import deliver_notification, notification_payload
from prosaas.clients import webpush
from prosaas.errors import BadInput
from prosaas.jobs import JobProgress
from prosaas.runtime import broker_runtime


@dramatiq.actor(queue_name="default", job_type="push_send",
                per_business=lambda: broker_runtime().settings.push_per_business, time_limit=2 * 60 * 1000)
def push_send(business_id: int, user_id: str, title: str, body: str, url: Optional[str] = None,
              data: Optional[dict] = None, notification_key: Optional[str] = None) -> dict:
    progress = JobProgress.current()
    # The job id names the notification, so a retried job never re-sends to a subscription it served.
    key = notification_key or (f"job:{progress.job_id}" if progress else None)
    if key is None:
        raise BadInput("push_send needs a notification_key when it is not a tracked job")
    runtime = broker_runtime()
    counts = deliver_notification(runtime.database, webpush.from_settings(runtime.settings), business_id=business_id,
                                  user_id=user_id, payload=notification_payload(title, body, url, data),
                                  notification_key=key)
    if progress:
        progress.update(total=counts["subscriptions"], processed=counts["subscriptions"] - counts["unavailable"],
                        succeeded=counts["sent"] + counts["already"], failed=counts["gone"] + counts["failed"])
    return counts
