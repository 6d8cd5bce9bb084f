"""Businesses and their API keys: keys are shown once and stored only as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models.core import Business


def hash_api_key(key: str) -> str:
    # Keys are 32 random bytes, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def create_business(session: Session, name: str, timezone: str = "UTC") -> tuple[Business, str]:
    """Create a business and return it with its plaintext API key (never stored)."""
    prefix = secrets.token_hex(4)
    key = f"psk_{prefix}_{secrets.token_urlsafe(32)}"
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
