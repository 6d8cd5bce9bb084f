"""Receipts, the service: store an uploaded receipt (file, then row), list them, start their deletion."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Optional

from db import receipts_store
from prosaas.clients import storage
from prosaas.jobs import Enqueued, enqueue_tracked

from actors.receipts import delete_receipts

# Sniffed from the file's first bytes (the declared Content-Type alone is not trusted) -> the key's extension.
ACCEPTED_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


class DeleteAllConflict(Exception):
    """A delete-all was asked while a deletion of chosen ids is active (answering with it would drop the ask)."""

    def __init__(self, job_id: str):
        super().__init__(job_id)
        self.job_id = job_id


def receipt_view(receipt) -> dict[str, Any]:
    return {"id": receipt.id, "vendor": receipt.vendor, "amount": f"{receipt.amount:.2f}",
            "currency": receipt.currency, "issued_at": receipt.issued_at.isoformat(),
            "content_type": receipt.content_type, "size_bytes": receipt.size_bytes, "filename": receipt.filename,
            "created_at": receipt.created_at.isoformat()}


def store_receipt(database, store, business_id: int, data: bytes, *, content_type: str, filename: Optional[str],
                  vendor: str, amount: Decimal, currency: str, issued_at: dt.date) -> dict[str, Any]:
    """Put the file in object storage (`store`), then record its row; returns the receipt's view.

    Raises storage.StorageUnavailable or storage.StoragePermanentError (nothing kept); a file whose row
    could not be written is deleted again.
    """
    key = f"receipts/{business_id}/{uuid.uuid4().hex}{ACCEPTED_TYPES[content_type]}"
    store.put(key, data, content_type)
    try:
        with database.session() as session:
            receipt = receipts_store.add_receipt(
                session, business_id=business_id, vendor=vendor, amount=amount, currency=currency,
                issued_at=issued_at, storage_key=key, content_type=content_type, size_bytes=len(data),
                filename=(filename or "")[:255] or None)
            return receipt_view(receipt)
    except Exception:
        try:  # no file without its row
            store.delete(key)
        except storage.StorageError:
            pass
        raise


def receipts_page(database, business_id: int, *, limit: int, before_id: Optional[int]) -> dict[str, Any]:
    """This business's receipts, newest first, with the total and the next page's `before_id`."""
    with database.session() as session:
        receipts = receipts_store.list_receipts(session, business_id, limit=limit, before_id=before_id)
        total = receipts_store.count_receipts(session, business_id)
        return {"receipts": [receipt_view(r) for r in receipts], "total": total,
                "next_before_id": receipts[-1].id if len(receipts) == limit else None}


def start_receipts_delete(business_id: int, *, select_all: bool, ids: list[int]) -> Enqueued:
    """Start the deletion of all or the chosen receipts; while one is active, that one is returned.

    Raises DeleteAllConflict when a delete-all is asked while a deletion of chosen ids is active.
    """
    kwargs = {"select_all": True} if select_all else {"ids": sorted(set(ids))}
    enqueued = enqueue_tracked(delete_receipts, business_id=business_id, kwargs=kwargs)
    if not enqueued.created and select_all and not (enqueued.job.args or {}).get("select_all"):
        raise DeleteAllConflict(enqueued.job_id)
    return enqueued
