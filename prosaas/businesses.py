"""Operators' actions on businesses (list, rotate a key, disable), shared by the CLI and the admin API.

A rotated or disabled key must stop working in every web process at once, though each caches known
keys for a few seconds: every change bumps a revision counter in Redis that the caches compare.
Each function takes the runtime it works with (its database, and Redis for the revision).
"""
from __future__ import annotations

from typing import Optional

from db.businesses import business_view, disable_business, list_businesses, rotate_api_key

KEYS_REVISION = "business_keys_revision"


def keys_revision(runtime) -> int:
    return int(runtime.redis.get(runtime.keys(KEYS_REVISION)) or 0)


def _keys_changed(runtime) -> None:
    runtime.redis.incr(runtime.keys(KEYS_REVISION))


def businesses(database) -> list[dict]:
    with database.session() as session:
        return [business_view(b) for b in list_businesses(session)]


def rotate_key(runtime, business_id: int) -> Optional[str]:
    """The new key (shown once), or None when there is no such business."""
    with runtime.database.session() as session:
        key = rotate_api_key(session, business_id)
    if key is not None:
        _keys_changed(runtime)
    return key


def disable(runtime, business_id: int) -> Optional[dict]:
    with runtime.database.session() as session:
        business = disable_business(session, business_id)
        view = business_view(business) if business else None
    if view is not None:
        _keys_changed(runtime)
    return view
