"""HTTP client for the Baileys WhatsApp gateway: send a text message, read a session's status."""
from __future__ import annotations

import logging

import requests

from prosaas.errors import PermanentError

log = logging.getLogger("prosaas.clients.baileys")

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30


class BaileysRejected(PermanentError):
    """Baileys answered 4xx: the request itself is wrong (bad number, unknown session); retrying cannot help."""

    reason = "baileys_rejected"

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class BaileysUnavailable(Exception):
    """Baileys answered 5xx, timed out or could not be reached; the job machinery retries."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class BaileysGateway:
    """The gateway at `base_url` (BAILEYS_URL; empty: every call is a PermanentError, since retrying cannot
    set it), waited for at most `connect_timeout` / `read_timeout` seconds.

    >>> BaileysGateway("http://baileys:3000").send_text(7, "972501234567@s.whatsapp.net", "hi", idempotency_key="k")
    """

    def __init__(self, base_url: str | None, *, connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
                 read_timeout: float = READ_TIMEOUT_SECONDS):
        self.base_url = (base_url or "").rstrip("/")
        self.timeouts = (connect_timeout, read_timeout)

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        if not self.base_url:  # fail now instead of holding the business's slot for hours
            raise PermanentError("BAILEYS_URL is not set: WhatsApp messages cannot be sent")
        try:
            response = requests.request(method, f"{self.base_url}{path}", timeout=self.timeouts, **kwargs)
        except requests.RequestException as exc:
            raise BaileysUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise BaileysUnavailable(f"{method} {path}: HTTP {response.status_code}", status=response.status_code)
        if response.status_code >= 400:
            raise BaileysRejected(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}",
                                  status=response.status_code)
        return response

    def send_text(self, business_id: int, to: str, text: str, *, idempotency_key: str) -> str:
        """Send `text` to `to` from the business's WhatsApp session; returns the provider message id.

        The idempotency key lets the gateway drop a repeat of a send it already accepted.
        """
        response = self._request("POST", f"/sessions/{int(business_id)}/messages",
                                 json={"to": to, "text": text, "idempotency_key": idempotency_key})
        try:
            provider_id = str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BaileysUnavailable(f"send answered HTTP {response.status_code} without an id") from exc
        log.info("BAILEYS_SENT business_id=%s provider_id=%s", business_id, provider_id)
        return provider_id

    def session_status(self, business_id: int) -> dict:
        """The gateway's view of the business's WhatsApp session: {"connected": bool, ...}."""
        response = self._request("GET", f"/sessions/{int(business_id)}/status")
        try:
            body = response.json()
        except ValueError as exc:
            raise BaileysUnavailable("status answered without JSON") from exc
        body["connected"] = bool(body.get("connected"))
        return body


def from_settings(settings) -> BaileysGateway:
    """The gateway configured by BAILEYS_URL."""
    return BaileysGateway(settings.baileys_url)
