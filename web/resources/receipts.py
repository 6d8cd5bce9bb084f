"""POST|GET /api/receipts (multipart upload into object storage, keyset-paged list) and
POST /api/receipts/delete (all or chosen ids, as one tracked batch job per business)."""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Optional

import falcon
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from spectree import Response

from actors.receipts_service import (ACCEPTED_TYPES, DeleteAllConflict, receipts_page, start_receipts_delete,
                                     store_receipt)
from prosaas.clients import storage
from web.input_guard import DatabaseId, refuse_control_characters
from web.spec import ErrorBody, api, validation_problems

MAX_IDS_PER_REQUEST = 10_000
log = logging.getLogger("prosaas.receipts")


def sniff_type(head: bytes) -> Optional[str]:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


class ReceiptFields(BaseModel):
    vendor: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. ILS")
    issued_at: dt.date = Field(description="date (YYYY-MM-DD) or ISO 8601 date-time; the date part is kept")

    @field_validator("vendor", mode="before")
    @classmethod
    def _strip(cls, value):
        return refuse_control_characters(value.strip()) if isinstance(value, str) else value

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("issued_at", mode="before")
    @classmethod
    def _date_part(cls, value):
        if isinstance(value, str) and "T" in value:
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
            except ValueError:
                return value
        return value


class ReceiptOut(BaseModel):
    id: int
    vendor: str
    amount: str
    currency: str
    issued_at: str
    content_type: str
    size_bytes: int
    filename: Optional[str]
    created_at: str


class ReceiptPage(BaseModel):
    receipts: list[ReceiptOut]
    total: int
    next_before_id: Optional[int] = Field(description="pass as before_id for the next page; null at the end")


class ReceiptsQuery(BaseModel):
    limit: int = Field(default=50, ge=1, le=200)
    before_id: Optional[DatabaseId] = None


class DeleteIn(BaseModel):
    all: Optional[bool] = None
    ids: Optional[list[DatabaseId]] = Field(default=None, min_length=1, max_length=MAX_IDS_PER_REQUEST)

    @model_validator(mode="after")
    def _one_of(self):
        if (self.all is True) == (self.ids is not None) or self.all is False:
            raise ValueError('send either {"all": true} or {"ids": [...]}')
        return self


class DeleteAccepted(BaseModel):
    job_id: str
    status: str
    created: bool = Field(description="false when an active deletion job was returned instead of a new one")


def _read_upload(req, max_bytes: int) -> tuple[dict, Optional[dict]]:
    """The form's text fields and its `file` part (data, declared type, filename), size-checked while read."""
    if not (req.content_type or "").lower().startswith("multipart/form-data"):
        raise falcon.HTTPUnsupportedMediaType(title="Unsupported media type",
                                              description="Send multipart/form-data with a `file` part and the "
                                                          "fields vendor, amount, currency, issued_at.")
    fields, upload = {}, None
    for part in req.get_media():
        if part.name == "file":
            data = part.stream.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise falcon.HTTPContentTooLarge(title="File too large",
                                                 description=f"The receipt file may be at most {max_bytes} bytes.")
            upload = {"data": data, "declared": (part.content_type or "").split(";")[0].strip().lower(),
                      "filename": (part.filename or None)}
        elif part.name in ReceiptFields.model_fields:
            fields[part.name] = part.get_text()
    return fields, upload


def _check_file(upload: Optional[dict]) -> str:
    if upload is None or not upload["data"]:
        raise falcon.HTTPUnprocessableEntity(title="Invalid request", description="file: a non-empty file is required")
    sniffed = sniff_type(upload["data"][:16])
    accepted = ", ".join(sorted(ACCEPTED_TYPES))
    if sniffed is None:
        raise falcon.HTTPUnsupportedMediaType(title="Unsupported file type",
                                              description=f"The file is not a PDF, JPEG, PNG or WebP ({accepted}).")
    declared = upload["declared"]
    if declared not in ("", "application/octet-stream") and declared != sniffed:
        raise falcon.HTTPUnsupportedMediaType(
            title="Unsupported file type",
            description=f"The file is declared as {declared} but its content is {sniffed}.")
    return sniffed


class ReceiptsCollection:
    auth = "business"

    def __init__(self, database, store, max_bytes: int):
        self.database = database
        self.store = store          # object storage for the files (prosaas.clients.storage)
        self.max_bytes = max_bytes  # RECEIPT_MAX_BYTES: a larger file is 413

    @api.validate(resp=Response(HTTP_201=ReceiptOut, HTTP_413=ErrorBody, HTTP_415=ErrorBody, HTTP_422=ErrorBody),
                  tags=["receipts"])
    def on_post(self, req, resp):
        """Upload a receipt: multipart/form-data with `file` (PDF, JPEG, PNG or WebP) and its metadata."""
        fields, upload = _read_upload(req, self.max_bytes)
        try:
            meta = ReceiptFields.model_validate(fields)
        except ValidationError as exc:
            raise falcon.HTTPUnprocessableEntity(title="Invalid request",
                                                 description=validation_problems(exc, whole="form"))
        content_type = _check_file(upload)
        business_id = req.context.business_id
        try:
            view = store_receipt(self.database, self.store, business_id, upload["data"], content_type=content_type,
                                 filename=upload["filename"], vendor=meta.vendor, amount=meta.amount,
                                 currency=meta.currency, issued_at=meta.issued_at)
        except storage.StorageUnavailable:
            raise falcon.HTTPServiceUnavailable(title="Storage unavailable",
                                                description="The file store is unreachable; try again shortly.",
                                                retry_after=10)
        except storage.StoragePermanentError as exc:
            log.error("RECEIPT_STORE_REFUSED business_id=%s error=%s", business_id, exc)
            raise falcon.HTTPBadGateway(title="Storage refused the file",
                                        description="The file store refused the upload; the operator has been told.")
        resp.status = falcon.HTTP_201
        resp.media = view

    @api.validate(query=ReceiptsQuery, resp=Response(HTTP_200=ReceiptPage), tags=["receipts"])
    def on_get(self, req, resp, query: ReceiptsQuery):
        """This business's receipts, newest first; page with before_id."""
        resp.media = receipts_page(self.database, req.context.business_id, limit=query.limit,
                                   before_id=query.before_id)


class ReceiptsDelete:
    auth = "business"

    @api.validate(json=DeleteIn, resp=Response(HTTP_202=DeleteAccepted, HTTP_409=ErrorBody, HTTP_422=ErrorBody),
                  tags=["receipts"])
    def on_post(self, req, resp, json: DeleteIn):
        """Delete all receipts or the chosen ids (files first) as a batch job; follow it at /api/jobs/{job_id}."""
        try:
            enqueued = start_receipts_delete(req.context.business_id, select_all=bool(json.all), ids=json.ids or [])
        except DeleteAllConflict as conflict:
            raise falcon.HTTPConflict(title="Conflict", description=(
                f"A deletion of chosen ids (job {conflict.job_id}) is active; ask for the delete-all again "
                f"once it has finished or after cancelling it."))
        resp.status = falcon.HTTP_202
        resp.media = {"job_id": enqueued.job_id, "status": enqueued.status, "created": enqueued.created}

