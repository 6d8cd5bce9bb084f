"""Who is calling: a business by its API key, or an operator by ADMIN_TOKEN. Declared per resource.

A resource says `auth = "public" | "business" | "admin" | "business_or_admin" | "signed"` ("signed":
the resource checks a webhook signature itself). A business key never opens admin resources (403).
Unknown tokens are counted per client address and locked out after too many (web/admin_access.py).
"""
from __future__ import annotations

import hmac
import threading
import time
from typing import Optional

import falcon

from db.businesses import business_for_key, hash_api_key
from prosaas.businesses import keys_revision
from web.admin_access import FailedTokenCounter
from web.admin_sessions import session_is_valid

ADMIN_COOKIE = "prosaas_admin"
# A cookie-authenticated POST must carry this header: a cross-site form cannot set it (CSRF).
CSRF_HEADER = "X-Requested-With"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def bearer_token(req) -> Optional[str]:
    header = req.get_header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class AuthMiddleware:
    """Sets `req.context.business_id` / `is_admin` from the caller's token or dashboard cookie, checked against
    `runtime` (its settings' ADMIN_TOKEN, the businesses in its database, the sessions in its Redis)."""

    def __init__(self, runtime):
        self.runtime = runtime
        self._businesses = KeyCache(revision=lambda: keys_revision(runtime))
        self.failures = FailedTokenCounter(runtime)

    def _is_admin(self, req, token: Optional[str]) -> bool:
        if token is None and is_admin_cookie(req, self.runtime):
            if req.method not in SAFE_METHODS and not req.get_header(CSRF_HEADER):
                raise falcon.HTTPForbidden(title="Forbidden",
                                           description=f"A cookie-authenticated {req.method} needs the "
                                                       f"{CSRF_HEADER} header.")
            return True
        return is_admin_token(token, self.runtime.settings.admin_token)

    def process_resource(self, req, resp, resource, params):
        mode = getattr(resource, "auth", "business") if resource is not None else "public"
        req.context.business_id = None
        req.context.is_admin = False
        if mode in ("public", "signed"):
            return
        token = bearer_token(req)
        if mode == "admin" and not self.runtime.settings.admin_token:
            raise falcon.HTTPUnauthorized(title="Unauthorized", challenges=["Bearer"],
                                          description="ADMIN_TOKEN is not set on this server: admin endpoints "
                                                      "and the dashboard stay locked until it is set.")
        if self._is_admin(req, token):
            if mode in ("admin", "business_or_admin"):
                req.context.is_admin = True
                return
            raise falcon.HTTPForbidden(title="Forbidden", description="This endpoint needs a business API key.")
        if token is None:
            raise falcon.HTTPUnauthorized(title="Unauthorized",
                                          description="Send 'Authorization: Bearer <API key>'.",
                                          challenges=["Bearer"])
        digest = req.context.api_key_hash = hash_api_key(token)  # once per request (the rate limit reuses it)
        known = self._businesses.get(digest)
        if known is None:
            # One database lookup per key at a time: when a busy key's entry expires, the requests in flight
            # wait for the first one's answer instead of each taking a connection for the same row.
            with self._businesses.lookup_lock(digest):
                known = self._businesses.get(digest)
                if known is None:
                    known = self._look_up(token)
                    if known is not None:
                        self._businesses.put(digest, known)
            if known is None:
                # A guess (of the admin token or a key): counted, and refused faster once there were too many.
                self.failures.refuse_if_locked(req)
                self.failures.record_failure(req, "bearer")
                raise falcon.HTTPUnauthorized(title="Unauthorized", description="Unknown API key.",
                                              challenges=["Bearer"])
        if mode == "admin":
            raise falcon.HTTPForbidden(title="Forbidden", description="This endpoint needs the admin token.")
        req.context.business_id, req.context.business_timezone = known

    def _look_up(self, token: str) -> Optional[tuple]:
        """(business id, timezone) of the key's business; None for an unknown key; 401 for a disabled one."""
        with self.runtime.database.session() as session:
            business = business_for_key(session, token)
            if business is not None and business.disabled_at is not None:
                raise falcon.HTTPUnauthorized(title="Unauthorized", description="This business is disabled.",
                                              challenges=["Bearer"])
            return (business.id, business.timezone) if business is not None else None


class KeyCache:
    """API key hash -> (business id, timezone) for a few seconds, sparing a database round trip per request.

    Only known keys are cached (an unknown key always asks the database); keys are held by hash
    (`hash_api_key`). The cache empties itself when `revision()` changes (a key rotated or a business disabled
    anywhere), which it asks at most once per `revision_check_seconds`, from one request: the others go on
    with the cache meanwhile.
    """

    LOOKUP_LOCKS = 64  # lookups of different keys proceed in parallel unless they share one of these

    def __init__(self, ttl_seconds: float = 30.0, max_entries: int = 10_000, *, revision=None,
                 revision_check_seconds: float = 1.0):
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, tuple]] = {}
        self._revision = revision
        self._revision_check = revision_check_seconds
        self._revision_seen: tuple[float, object] = (0.0, None)
        self._lookup_locks = [threading.Lock() for _ in range(self.LOOKUP_LOCKS)]

    def _drop_if_keys_changed(self) -> None:
        now = time.monotonic()
        checked_at, seen = self._revision_seen
        if self._revision is None or now - checked_at < self._revision_check:
            return
        self._revision_seen = (now, seen)  # before asking: the requests arriving meanwhile do not ask as well
        try:
            current = self._revision()
        except Exception:  # Redis down: the TTL still bounds how long a changed key is honoured
            return
        if current != seen:
            self._entries.clear()
        self._revision_seen = (now, current)

    def get(self, digest: str):
        self._drop_if_keys_changed()
        entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, digest: str, value: tuple) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl, value)

    def lookup_lock(self, digest: str) -> threading.Lock:
        """The lock a database lookup of this key holds (the same for every request with this key)."""
        return self._lookup_locks[int(digest[:8], 16) % self.LOOKUP_LOCKS]


def is_admin_token(candidate: Optional[str], admin_token: str) -> bool:
    return bool(admin_token and candidate) and hmac.compare_digest(candidate.encode(), admin_token.encode())


def is_admin_cookie(req, runtime) -> bool:
    """The dashboard cookie names a live server-side session (web/admin_sessions.py)."""
    values = req.get_cookie_values(ADMIN_COOKIE) or []
    return bool(values) and session_is_valid(runtime, values[0])


def scope(req) -> Optional[int]:
    """The business whose data the caller may see (None: an operator sees every business)."""
    return None if req.context.is_admin else req.context.business_id
