"""Crash recovery on a timer: requeue messages held by dead worker processes, dead-letter crash loops,
expire dead letters older than DEAD_LETTER_TTL_SECONDS.

Dramatiq's Redis broker does this only on a random 0.1 % of commands (dramatiq #527) and never
counts redeliveries (#213); this runs every few seconds from every worker and counts them
(redis_protocol.RECOVER).
"""
from __future__ import annotations

import json
import logging

from prosaas.redis_protocol import Keys, Protocol, delay_queue

log = logging.getLogger("prosaas.recovery")


class Recovery:
    """Runs the recovery script over every queue (and its delay queue)."""

    def __init__(self, client, namespace: str, queues, *, dead_after_seconds: int, max_redeliveries: int,
                 dead_letter_ttl_seconds: int = 86400):
        self.protocol = Protocol(client, Keys(namespace))
        self.queues = list(queues)
        self.dead_after_ms = dead_after_seconds * 1000
        self.max_redeliveries = max_redeliveries
        self.dead_letter_ttl_ms = dead_letter_ttl_seconds * 1000

    def run_once(self) -> tuple[int, list[dict]]:
        """Returns (messages requeued, decoded messages dead-lettered as crashed_worker)."""
        requeued_total, crashed_messages = 0, []
        for queue in self.queues:
            for name in (queue, delay_queue(queue)):
                requeued, crashed, expired = self.protocol.recover(
                    name, dead_after_ms=self.dead_after_ms, max_redeliveries=self.max_redeliveries,
                    dead_letter_ttl_ms=self.dead_letter_ttl_ms)
                if expired:
                    log.info("DEAD_LETTERS_EXPIRED queue=%s count=%d", name, expired)
                requeued_total += requeued
                for data in crashed:
                    try:
                        crashed_messages.append(json.loads(data))
                    except ValueError:
                        log.warning("RECOVERY_UNDECODABLE queue=%s", name)
                if requeued:
                    log.warning("JOB_REDELIVERED queue=%s count=%d reason=dead_worker", name, requeued)
        for message in crashed_messages:
            log.error("JOB_FAILED actor=%s job_id=%s message_id=%s reason=crashed_worker",
                      message.get("actor_name"), message.get("options", {}).get("job_id", "-"),
                      message.get("message_id"))
        return requeued_total, crashed_messages
