"""WhatsApp actors: process one Baileys webhook (tracked job); close idle conversations every 5 minutes."""
from __future__ import annotations

import dramatiq
from periodiq import cron

from actors.whatsapp_work import close_idle_conversations, process_webhook
from prosaas.clients import baileys, responder
from prosaas.runtime import broker_runtime


@dramatiq.actor(queue_name="default", job_type="whatsapp_webhook",
                per_business=lambda: broker_runtime().settings.whatsapp_per_business, time_limit=5 * 60 * 1000)
def whatsapp_webhook(business_id: int, messages: list) -> dict:
    runtime = broker_runtime()
    return process_webhook(runtime.database, baileys.from_settings(runtime.settings),
                           responder.from_settings(runtime.settings), business_id, messages)


@dramatiq.actor(queue_name="low", periodic=cron("*/5 * * * *"), max_retries=0, time_limit=4 * 60 * 1000)
def whatsapp_sessions_cleanup() -> dict:
    runtime = broker_runtime()
    return close_idle_conversations(runtime.database, responder.from_settings(runtime.settings))
