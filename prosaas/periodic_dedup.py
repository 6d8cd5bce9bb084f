"""Each periodic tick enqueued once, whoever sends it: `prosaas scheduler`, `periodiq`, or any mix of them.

Every sender meets in ProsaasBroker.enqueue. A message carrying periodiq's `scheduled_at` option goes
into its queue only if it is the first for its actor and minute (keyed by actor plus the minute in UTC,
SET NX); the same message again (a retry, a requeued dead letter: same message id) still passes.
Each sending process is recorded with the time it last sent a tick, so that health can show a
scheduler that writes no heartbeat of its own (periodiq) as alive.

KEYS[1] the tick's key; ARGV[1] message id, ARGV[2] TTL seconds. Returns 1 to enqueue, 0 to drop.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time

import pendulum

log = logging.getLogger("prosaas.scheduler")
TICK_TTL_SECONDS = 3 * 24 * 3600
FIRST_FOR_TICK = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""


def tick_minute(scheduled_at: str) -> str:
    """periodiq writes local time with seconds, our scheduler UTC minutes: both become a UTC minute."""
    moment = pendulum.parse(scheduled_at).in_timezone("UTC")
    return moment.replace(second=0, microsecond=0).isoformat()


class TickEnqueues:
    """The enqueue-time de-duplication of periodic messages, and the record of who sends them."""

    def __init__(self, client, keys):
        self.client = client
        self.keys = keys
        self.sender = f"{socket.gethostname()}:{os.getpid()}"
        # "prosaas" in `prosaas scheduler` (it heartbeats itself); any other sender is taken for periodiq.
        self.sender_kind = "periodiq"

    def first_for_tick(self, message) -> bool:
        try:
            minute = tick_minute(str(message.options["scheduled_at"]))
        except Exception:  # not a time we can read: nothing to de-duplicate on
            return True
        first = self.client.eval(FIRST_FOR_TICK, 1, self.keys("tick-enqueued", message.actor_name, minute),
                                 message.message_id, TICK_TTL_SECONDS)
        self.client.hset(self.keys("scheduler", "senders"), self.sender, json.dumps(
            {"host": socket.gethostname(), "pid": os.getpid(), "last_sent": time.time(), "kind": self.sender_kind}))
        if not first:
            log.info("TICK_DUPLICATE_DROPPED actor=%s tick=%s", message.actor_name, minute)
        return bool(first)
