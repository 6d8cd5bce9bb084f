"""Wrong tokens, counted per real client address: ten within five minutes lock that address's guesses (429).

The count covers every Bearer token that is neither ADMIN_TOKEN nor a known business key, and every wrong
dashboard login, so the admin token cannot be guessed faster through any door. A lockout never refuses the
right token (nor a known business key): it stops guesses, and nobody can lock the operator out by guessing
from the operator's address. The address is the socket peer, or, when that peer is one of TRUSTED_PROXIES,
the last address in X-Forwarded-For that is not itself a trusted proxy (anyone can write that header).
"""
from __future__ import annotations

import ipaddress
import logging

import falcon

from prosaas.logs import log_event

log = logging.getLogger("prosaas.web.auth")
MAX_FAILURES = 10  # wrong tokens per client address ...
FAILURE_WINDOW_SECONDS = 300  # ... within this window, then 429 for guesses until it passes


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(req, trusted_proxies: tuple) -> str:
    """The address a request came from, believing X-Forwarded-For only as far as trusted proxies wrote it."""
    address = req.remote_addr or "-"
    peer = _ip(address)
    if not trusted_proxies or peer is None or not any(peer in net for net in trusted_proxies):
        return address
    for hop in reversed([h for h in (req.get_header("X-Forwarded-For") or "").split(",") if h.strip()]):
        hop_ip = _ip(hop)
        if hop_ip is None:
            return address  # garbage before a trusted hop: the last trusted hop is all we know
        address = str(hop_ip)
        if not any(hop_ip in net for net in trusted_proxies):
            return address
    return address


class FailedTokenCounter:
    """Counts wrong tokens per client address in Redis (a key per address, expiring with the window)."""

    def __init__(self, runtime):
        self.runtime = runtime

    def address(self, req) -> str:
        cached = getattr(req.context, "client_address", None)
        if cached is None:
            cached = req.context.client_address = client_address(
                req, self.runtime.settings.trusted_proxy_networks)
        return cached

    def _key(self, req) -> str:
        return self.runtime.keys("auth", "token-failures", self.address(req))

    def refuse_if_locked(self, req) -> None:
        failures = int(self.runtime.redis.get(self._key(req)) or 0)
        if failures >= MAX_FAILURES:
            log_event(log, logging.WARNING, "ADMIN_AUTH_LOCKED", remote=self.address(req), failures=failures)
            raise falcon.HTTPTooManyRequests(
                title="Too many wrong tokens",
                description=f"{failures} wrong tokens from this address; try again in a few minutes.",
                retry_after=FAILURE_WINDOW_SECONDS)

    def record_failure(self, req, where: str) -> int:
        pipe = self.runtime.redis.pipeline()
        pipe.incr(self._key(req))
        pipe.expire(self._key(req), FAILURE_WINDOW_SECONDS)
        failures = pipe.execute()[0]
        log_event(log, logging.WARNING, "ADMIN_AUTH_FAILED", remote=self.address(req), where=where,
                  failures=failures)
        return failures

    def clear(self, req) -> None:
        self.runtime.redis.delete(self._key(req))
