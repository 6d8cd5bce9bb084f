"""Reads and writes of receipts, every query scoped by business, including the deletion job's batches."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models.batch import Receipt


def add_receipt(session: Session, *, business_id: int, vendor: str, amount: Decimal, currency: str,
                issued_at: dt.date, storage_key: str, content_type: str, size_bytes: int,
                filename: Optional[str] = None) -> Receipt:
    receipt = Receipt(business_id=business_id, vendor=vendor, amount=amount, currency=currency,
                      issued_at=issued_at, storage_key=storage_key, content_type=content_type,
                      size_bytes=size_bytes, filename=filename)
    session.add(receipt)
    session.flush()
    return receipt


def add_receipts(session: Session, rows: Sequence[dict]) -> None:
    """Bulk insert (each dict has the add_receipt fields); used for imports and test fixtures."""
    if rows:
        session.execute(Receipt.__table__.insert(), [{"created_at": utcnow(), **row} for row in rows])


def list_receipts(session: Session, business_id: int, *, limit: int = 50,
                  before_id: Optional[int] = None) -> list[Receipt]:
    """Newest first, keyset-paged: pass the last id you saw as before_id for the next page."""
    query = select(Receipt).where(Receipt.business_id == business_id)
    if before_id is not None:
        query = query.where(Receipt.id < before_id)
    return list(session.scalars(query.order_by(Receipt.id.desc()).limit(limit)))


def count_receipts(session: Session, business_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Receipt).where(Receipt.business_id == business_id))


def get_receipt(session: Session, business_id: int, receipt_id: int) -> Optional[Receipt]:
    return session.scalars(select(Receipt).where(Receipt.business_id == business_id,
                                                 Receipt.id == receipt_id)).first()


def _targets(business_id: int, max_id: int, ids: Optional[Sequence[int]]):
    """The receipts a deletion job covers: the business's rows up to the snapshot id (or the chosen ids)."""
    condition = [Receipt.business_id == business_id, Receipt.id <= max_id]
    if ids is not None:
        condition.append(Receipt.id.in_(list(ids)))
    return condition


def snapshot_targets(session: Session, business_id: int, ids: Optional[Sequence[int]]) -> tuple[int, int]:
    """(max_id, count) of what a deletion job starting now covers; receipts added later are not touched."""
    max_id = session.scalar(select(func.max(Receipt.id)).where(Receipt.business_id == business_id)) or 0
    count = session.scalar(select(func.count()).select_from(Receipt).where(*_targets(business_id, max_id, ids)))
    return max_id, count


def next_batch(session: Session, business_id: int, *, after_id: int, max_id: int,
               ids: Optional[Sequence[int]], size: int) -> list[tuple[int, str]]:
    """The next `size` (id, storage_key) pairs past the cursor, oldest first."""
    query = (select(Receipt.id, Receipt.storage_key).where(*_targets(business_id, max_id, ids), Receipt.id > after_id)
             .order_by(Receipt.id).limit(size))
    return [(row.id, row.storage_key) for row in session.execute(query)]


def delete_rows(session: Session, business_id: int, receipt_ids: Sequence[int]) -> int:
    """Delete these receipts of the business; returns how many rows were there to delete."""
    if not receipt_ids:
        return 0
    return session.execute(delete(Receipt).where(Receipt.business_id == business_id, Receipt.id.in_(list(receipt_ids)))
                           .execution_options(synchronize_session=False)).rowcount
