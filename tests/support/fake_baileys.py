"""A fake Baileys WhatsApp gateway: a real threaded HTTP server on 127.0.0.1 that records accepted sends.

Speaks the same two routes as prosaas/clients/baileys.py:
POST /sessions/{business_id}/messages {"to","text","idempotency_key"} -> 201 {"id"} and
GET /sessions/{business_id}/status -> {"connected": bool}.
A repeat of an idempotency key the fake already accepted answers the first id again and is not
added to `.sent` (it is counted in `.duplicate_sends`), like a gateway that honours the key.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone

from tests.support.local_http import LocalHTTPServer, QuietHandler

_SEND = re.compile(r"^/sessions/(\d+)/messages/?$")
_STATUS = re.compile(r"^/sessions/(\d+)/status/?$")


class FakeBaileys(LocalHTTPServer):
    name = "fake-baileys"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self.sent: list[dict] = []          # accepted sends, in order
        self.attempts: list[dict] = []      # every send request, accepted or not
        self.duplicate_sends: list[dict] = []
        self.connected: dict[int, bool] = {}  # business_id -> False to simulate a logged-out session
        self.disconnected_status = 503      # answer to a send on a disconnected session
        self.delay_seconds: float = 0.0     # sleep before answering a send
        self._fail_queue: list[int] = []
        self._by_key: dict[tuple[int, str], str] = {}
        super().__init__(host, port)

    # --- control -------------------------------------------------------------
    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` send requests answer `status` (and are not accepted)."""
        with self._lock:
            self._fail_queue.extend([status] * n)

    def sent_to(self, to: str) -> list[dict]:
        with self._lock:
            return [s for s in self.sent if s["to"] == to]

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.sent)

    # --- server --------------------------------------------------------------
    def _handle_send(self, business_id: int, body: dict) -> tuple[int, dict]:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        to, text, key = body.get("to"), body.get("text"), body.get("idempotency_key")
        record = {"business_id": business_id, "to": to, "text": text, "idempotency_key": key,
                  "time": datetime.now(timezone.utc)}
        with self._lock:
            self.attempts.append(record)
            if self._fail_queue:
                status = self._fail_queue.pop(0)
                return status, {"error": f"injected failure {status}"}
            if not isinstance(to, str) or not to or not isinstance(text, str) or not isinstance(key, str) or not key:
                return 400, {"error": "to, text and idempotency_key are required strings"}
            if not self.connected.get(business_id, True):
                return self.disconnected_status, {"error": "session not connected"}
            earlier = self._by_key.get((business_id, key))
            if earlier is not None:
                self.duplicate_sends.append({**record, "id": earlier})
                return 200, {"id": earlier}
            provider_id = f"BAE5{uuid.uuid4().hex[:16].upper()}"
            self._by_key[(business_id, key)] = provider_id
            self.sent.append({**record, "id": provider_id})
            return 201, {"id": provider_id}

    def _handle_status(self, business_id: int) -> tuple[int, dict]:
        with self._lock:
            connected = self.connected.get(business_id, True)
        return 200, {"connected": connected, "business_id": business_id}

    def _handler_class(self):
        fake = self

        class Handler(QuietHandler):
            def _json(self, status: int, body: dict) -> None:
                self.answer(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

            def do_POST(self):
                raw = self.read_body()
                match = _SEND.match(self.path)
                if not match:
                    return self._json(404, {"error": "not found"})
                try:
                    body = json.loads(raw or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError
                except ValueError:
                    return self._json(400, {"error": "body must be a JSON object"})
                self._json(*fake._handle_send(int(match.group(1)), body))

            def do_GET(self):
                match = _STATUS.match(self.path)
                if not match:
                    return self._json(404, {"error": "not found"})
                self._json(*fake._handle_status(int(match.group(1))))

        return Handler
