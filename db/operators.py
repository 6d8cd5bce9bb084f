"""The operators' own business: the owner of the jobs operators start themselves (bulk actions).

Every tracked job belongs to a business; this one is found by an API-key prefix no real key has (real
prefixes are 8 hex digits) and its key hash is of a random value nobody holds, so no request can use it.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models.core import Business

OPERATORS_PREFIX = "operators"
OPERATORS_NAME = "prosaas operators"


def operators_business_id(session: Session) -> int:
    found = session.scalar(select(Business.id).where(Business.api_key_prefix == OPERATORS_PREFIX))
    if found is not None:
        return found
    business = Business(name=OPERATORS_NAME, api_key_prefix=OPERATORS_PREFIX,
                        api_key_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest())
    session.add(business)
    session.flush()
    return business.id
