"""Businesses and their API keys: keys are shown once and stored only as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.job_store import JobConflict, request_control
from db.models.core import BackgroundJob, Business, JobControl, JobStatus


def hash_api_key(key: str) -> str:
    # Keys are 32 random bytes, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"psk_{prefix}_{secrets.token_urlsafe(32)}"


def create_business(session: Session, name: str, timezone: str = "UTC") -> tuple[Business, str]:
    """Create a business and return it with its plaintext API key (never stored)."""
    prefix, key = _new_key()
    business = Business(name=name, api_key_prefix=prefix, api_key_hash=hash_api_key(key), timezone=timezone)
    session.add(business)
    session.flush()
    return business, key


def business_for_key(session: Session, key: str) -> Optional[Business]:
    return session.scalars(select(Business).where(Business.api_key_hash == hash_api_key(key))).first()


def get_business(session: Session, business_id: int) -> Optional[Business]:
    return session.get(Business, business_id)


def set_transcription_language(session: Session, business_id: int, language: Optional[str]) -> bool:
    """The business's own speech-to-text language (None: TRANSCRIPTION_LANGUAGE); False if no such business."""
    business = session.get(Business, business_id)
    if business is None:
        return False
    business.transcription_language = language
    return True
def list_businesses(session: Session) -> list[Business]:
    return list(session.scalars(select(Business).order_by(Business.id)))


def rotate_api_key(session: Session, business_id: int) -> Optional[str]:
    """Give the business a new key (returned once); the old one stops matching at once."""
    business = session.get(Business, business_id)
    if business is None:
        return None
    business.api_key_prefix, key = _new_key()
    business.api_key_hash = hash_api_key(key)
    session.flush()
    return key


def disable_business(session: Session, business_id: int) -> Optional[Business]:
    """Refuse the business's key from now on and cancel its jobs that have not started (queued or paused);
    a running batch job is asked to cancel at its next batch, a running single job finishes."""
    business = session.get(Business, business_id)
    if business is None:
        return None
    business.disabled_at = business.disabled_at or utcnow()
    active = session.scalars(select(BackgroundJob).where(BackgroundJob.business_id == business_id,
                                                         BackgroundJob.status.in_(JobStatus.ACTIVE)))
    for job in active:
        try:
            request_control(session, job, JobControl.CANCEL)
        except JobConflict:  # running and not interruptible: it finishes on its own
            pass
    session.flush()
    return business


def business_view(business: Business) -> dict:
    """The JSON shape of a business for operators (never its key or key hash)."""
    return {"id": business.id, "name": business.name, "timezone": business.timezone,
            "api_key_prefix": business.api_key_prefix,
            "created_at": business.created_at.isoformat() if business.created_at else None,
            "disabled": business.disabled_at is not None,
            "disabled_at": business.disabled_at.isoformat() if business.disabled_at else None}
