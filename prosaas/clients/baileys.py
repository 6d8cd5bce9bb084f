"""HTTP client for the Baileys WhatsApp gateway: send a text message, read a session's status."""
from __future__ import annotations

import logging

import requests

from prosaas.errors import PermanentError
from prosaas.settings import get_settings

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


def _base_url() -> str:
    url = get_settings().baileys_url
    if not url:  # retrying cannot set it: fail now instead of holding the business's slot for hours
        raise PermanentError("BAILEYS_URL is not set: WhatsApp messages cannot be sent")
    return url.rstrip("/")


def _request(method: str, path: str, **kwargs) -> requests.Response:
    url = f"{_base_url()}{path}"
    try:
        response = requests.request(method, url, timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS), **kwargs)
    except requests.RequestException as exc:
        raise BaileysUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise BaileysUnavailable(f"{method} {path}: HTTP {response.status_code}", status=response.status_code)
    if response.status_code >= 400:
        raise BaileysRejected(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}",
                              status=response.status_code)
    return response


def send_text(business_id: int, to: str, text: str, *, idempotency_key: str) -> str:
    """Send `text` to `to` from the business's WhatsApp session; returns the provider message id.

    The idempotency key lets the gateway drop a repeat of a send it already accepted.
    """
    response = _request("POST", f"/sessions/{int(business_id)}/messages",
                        json={"to": to, "text": text, "idempotency_key": idempotency_key})
    try:
        provider_id = str(response.json()["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BaileysUnavailable(f"send answered HTTP {response.status_code} without an id") from exc
    log.info("BAILEYS_SENT business_id=%s provider_id=%s", business_id, provider_id)
    return provider_id


def session_status(business_id: int) -> dict:
    """The gateway's view of the business's WhatsApp session: {"connected": bool, ...}."""
    response = _request("GET", f"/sessions/{int(business_id)}/status")
    try:
        body = response.json()
    except ValueError as exc:
        raise BaileysUnavailable("status answered without JSON") from exc
    body["connected"] = bool(body.get("connected"))
    return body
