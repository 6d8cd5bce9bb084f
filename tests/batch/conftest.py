"""Fixtures for batch-job tests: a moto S3 server, a faulty proxy before it, receipts made in bulk."""
from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal

import pytest

from tests.batch.s3_support import CREDENTIALS, FaultyProxy, MotoS3

BUCKET = "receipts-test"


@pytest.fixture(scope="session")
def s3():
    os.environ.update(CREDENTIALS)  # boto3 in this process and in the workers it starts
    server = MotoS3().start()
    server.client.create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture
def s3_proxy(s3):
    proxy = FaultyProxy(s3.port)
    yield proxy
    proxy.stop()


@pytest.fixture
def s3_worker_env(s3_proxy) -> dict:
    """Settings for a worker that stores in the moto bucket through the proxy, with short waits for tests."""
    return {"STORAGE_URL": f"s3://{BUCKET}", "S3_ENDPOINT_URL": s3_proxy.url, **CREDENTIALS,
            "RECEIPTS_BACKOFF_BASE_SECONDS": "0.2", "WORKER_DEAD_AFTER_SECONDS": "5", "JOB_STALE_AFTER_SECONDS": "5"}


@pytest.fixture
def seed_receipts(runtime, s3):
    """make(business_id, n) -> ids: n receipts with their files in the moto bucket (rows in bulk)."""
    from db import receipts_store
    from db.models.batch import Receipt
    from sqlalchemy import select

    def make(business_id: int, count: int) -> list[int]:
        keys = [f"receipts/{business_id}/{index:05d}-{uuid.uuid4().hex[:8]}.pdf" for index in range(count)]
        s3.put_many(BUCKET, {key: b"%PDF-1.4 receipt " + key.encode() for key in keys})
        rows = [dict(business_id=business_id, vendor=f"Vendor {i}", amount=Decimal("10.00") + i, currency="ILS",
                     issued_at=dt.date(2026, 11, 1), storage_key=key, content_type="application/pdf",
                     size_bytes=30, filename=None) for i, key in enumerate(keys)]
        with runtime.database.session() as session:
            receipts_store.add_receipts(session, rows)
        with runtime.database.session() as session:
            return list(session.scalars(select(Receipt.id).where(Receipt.business_id == business_id)
                                        .order_by(Receipt.id)))
    return make
