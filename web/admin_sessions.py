"""Dashboard sessions: a random id in the cookie, its record in Redis with a TTL, deleted at logout.

The record holds a fingerprint of ADMIN_TOKEN, so changing the token ends every session at once. Only a
hash of the id is stored: a Redis dump does not hold usable cookies.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Optional

SESSION_TTL_SECONDS = 12 * 3600


def _token_fingerprint(admin_token: str) -> str:
    return hmac.new(admin_token.encode(), b"prosaas-dashboard-session-v2", "sha256").hexdigest()


def _key(runtime, session_id: str) -> str:
    return runtime.keys("dashboard", "session", hashlib.sha256(session_id.encode()).hexdigest())


def open_session(runtime) -> str:
    session_id = secrets.token_urlsafe(32)
    runtime.redis.set(_key(runtime, session_id), _token_fingerprint(runtime.settings.admin_token),
                      ex=SESSION_TTL_SECONDS)
    return session_id


def session_is_valid(runtime, session_id: Optional[str]) -> bool:
    admin_token = runtime.settings.admin_token
    if not session_id or not admin_token or len(session_id) > 128:
        return False
    stored = runtime.redis.get(_key(runtime, session_id))
    return stored is not None and hmac.compare_digest(stored, _token_fingerprint(admin_token).encode())


def close_session(runtime, session_id: Optional[str]) -> None:
    if session_id and len(session_id) <= 128:
        runtime.redis.delete(_key(runtime, session_id))
