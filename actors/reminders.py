"""Reminder actors: the every-minute tick that notifies, and the daily 03:00 cleanup of finished ones."""
from __future__ import annotations

import dramatiq
from periodiq import cron

from actors.reminders_work import delete_old_finished, run_tick
from prosaas.runtime import broker_runtime


# No retries: the next tick (a minute later) picks up whatever this one did not finish.
@dramatiq.actor(queue_name="default", periodic=cron("* * * * *"), max_retries=0, time_limit=50 * 1000)
def reminders_tick() -> dict:
    runtime = broker_runtime()
    return run_tick(runtime.database, runtime.settings.reminder_offsets)


@dramatiq.actor(queue_name="maintenance", periodic=cron("0 3 * * *"), max_retries=2, time_limit=10 * 60 * 1000)
def reminders_cleanup() -> dict:
    return delete_old_finished(broker_runtime().database)
