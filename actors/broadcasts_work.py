"""Sending one WhatsApp broadcast: paced, in batches of 50, resumable after pause or crash without double sends.

Each recipient is marked `sending` (committed) before the call to Baileys and `sent`/`failed` after it.
A run starts by turning any recipient still `sending` (its worker died mid-call) into `unknown`: it
may have been delivered, so it is never resent blindly. Job progress is recounted from the recipients
after every message, so it is exact across pauses, retries and crashes.
"""
from __future__ import annotations

import logging
import random
import time
from typing import Optional

import requests

from db import broadcasts_store, job_store
from prosaas.clients.baileys import BaileysGateway, BaileysRejected, BaileysUnavailable
from prosaas.errors import BadInput
from prosaas.jobs import JobProgress

log = logging.getLogger("prosaas.broadcasts")

BATCH_SIZE = 50


class SessionNotConnected(Exception):
    """The business's WhatsApp session cannot send now; the job is retried later and no recipient is used up."""


def _gateway_never_got_it(exc: BaileysUnavailable) -> bool:
    """True when the send surely did not happen: the gateway answered 5xx, or no connection was made."""
    if exc.status is not None:
        return True
    cause = exc.__cause__
    return isinstance(cause, requests.ConnectTimeout) or "NewConnectionError" in repr(cause) or cause is None


class BroadcastRun:
    """One run of a broadcast job: `gateway` sends, `delay_range` (seconds, BROADCAST_DELAY_SECONDS) paces."""

    def __init__(self, database, gateway: BaileysGateway, business_id: int, broadcast_id: int, progress: JobProgress,
                 *, delay_range: tuple[float, float]):
        self.database = database
        self.gateway = gateway
        self.business_id = business_id
        self.broadcast_id = broadcast_id
        self.progress = progress
        self.delay_range = delay_range

    def run(self) -> Optional[dict]:
        database = self.database
        with database.session() as session:
            broadcast = broadcasts_store.get_broadcast(session, self.business_id, self.broadcast_id)
            if broadcast is None:
                raise BadInput(f"broadcast {self.broadcast_id} does not exist for business {self.business_id}")
            message = broadcast.message
            interrupted = broadcasts_store.mark_interrupted_unknown(session, self.broadcast_id)
        for _phone in interrupted:
            log.warning("BROADCAST_UNKNOWN broadcast_id=%s job_id=%s reason=worker_died_during_send",
                        self.broadcast_id, self.progress.job_id)
        action = self._report()
        if action:
            return self._stop(action)
        sent_any = False
        while True:
            with database.session() as session:
                batch = broadcasts_store.next_queued(session, self.broadcast_id, BATCH_SIZE)
            if not batch:
                break
            self._require_connected_session()
            for recipient_id, phone in batch:
                if sent_any:
                    time.sleep(random.uniform(*self.delay_range))  # pacing, so the number is not banned
                sent_any = self._send_one(recipient_id, phone, message) or sent_any
                action = self._report()
                if action:
                    return self._stop(action)
        counts = self._counts()
        log.info("BROADCAST_DONE broadcast_id=%s job_id=%s sent=%d failed=%d unknown=%d", self.broadcast_id,
                 self.progress.job_id, counts["sent"], counts["failed"], counts["unknown"])
        return self._result(counts)

    def _require_connected_session(self) -> None:
        if not self.gateway.session_status(self.business_id)["connected"]:  # BaileysUnavailable: retried too
            log.warning("BROADCAST_WAITING_SESSION broadcast_id=%s job_id=%s business_id=%s", self.broadcast_id,
                        self.progress.job_id, self.business_id)
            raise SessionNotConnected(f"the WhatsApp session of business {self.business_id} is not connected; "
                                      "the broadcast waits and retries, no recipient was used")

    def _send_one(self, recipient_id: int, phone: str, message: str) -> bool:
        database = self.database
        with database.session() as session:
            if not broadcasts_store.mark_sending(session, recipient_id):
                return False
        try:
            provider_id = self.gateway.send_text(self.business_id, phone, message,
                                                 idempotency_key=f"broadcast-{self.broadcast_id}-{recipient_id}")
        except BaileysRejected as exc:
            with database.session() as session:
                broadcasts_store.mark_failed(session, recipient_id, str(exc))
            log.info("BROADCAST_SEND broadcast_id=%s recipient_id=%s status=failed http=%s", self.broadcast_id,
                     recipient_id, exc.status)
            return True
        except BaileysUnavailable as exc:
            with database.session() as session:
                if _gateway_never_got_it(exc):
                    broadcasts_store.return_to_queue(session, recipient_id)
                else:
                    broadcasts_store.mark_unknown(session, recipient_id, f"no answer from the gateway: {exc}")
            self._report()
            raise
        with database.session() as session:
            broadcasts_store.mark_sent(session, recipient_id, provider_id)
        log.info("BROADCAST_SEND broadcast_id=%s recipient_id=%s status=sent", self.broadcast_id, recipient_id)
        return True

    def _counts(self) -> dict[str, int]:
        with self.database.session() as session:
            return broadcasts_store.status_counts(session, self.broadcast_id)

    @staticmethod
    def _result(counts: dict[str, int]) -> dict:
        return {"total": sum(counts.values()), "counts": counts, "sent": counts["sent"],
                "failed": counts["failed"] + counts["unknown"], "cancelled": counts["cancelled"]}

    def _report(self) -> Optional[str]:
        """Write progress from the recipients' statuses; returns a pending pause/cancel request."""
        with self.database.session() as session:
            counts = broadcasts_store.status_counts(session, self.broadcast_id)
            failed = counts["failed"] + counts["unknown"]
            return job_store.update_progress(session, self.progress.job_id, total=sum(counts.values()),
                                             processed=counts["sent"] + failed, succeeded=counts["sent"],
                                             failed=failed, result=self._result(counts))

    def _stop(self, action: str) -> None:
        if action == "cancel":
            with self.database.session() as session:
                cancelled = broadcasts_store.cancel_queued(session, self.broadcast_id)
            log.info("BROADCAST_CANCELLED broadcast_id=%s job_id=%s recipients_cancelled=%d", self.broadcast_id,
                     self.progress.job_id, cancelled)
            self._report()
        self.progress.honour(action)
        return None


def send_broadcast(database, gateway: BaileysGateway, business_id: int, broadcast_id: int, *,
                   delay_range: tuple[float, float]) -> Optional[dict]:
    progress = JobProgress.current()
    if progress is None:
        raise BadInput("a broadcast runs only as a tracked job (start it with POST /api/broadcasts)")
    return BroadcastRun(database, gateway, business_id, broadcast_id, progress, delay_range=delay_range).run()
