"""The object-storage module against moto's real S3 API and a directory: what each failure is called."""
from __future__ import annotations

import pytest

from actors.receipts_work import backoff_delay
from prosaas.clients.storage import (FileStorage, StorageNotFound, StoragePermanentError, StorageUnavailable,
                                     open_storage)
from tests.batch.conftest import BUCKET
from tests.support.processes import free_port


def test_s3_put_get_delete_and_repeatable_deletes(s3):
    store = open_storage(f"s3://{BUCKET}", s3.url)
    store.put("unit/a.pdf", b"%PDF-1.4 a", "application/pdf")
    store.put("unit/b.pdf", b"%PDF-1.4 b", "application/pdf")
    assert store.get("unit/a.pdf") == b"%PDF-1.4 a"
    store.delete("unit/a.pdf")
    store.delete("unit/a.pdf")  # already gone: still fine, so a re-run batch can delete again
    with pytest.raises(StorageNotFound):
        store.get("unit/a.pdf")
    outcome = store.delete_many(["unit/b.pdf", "unit/never-existed.pdf"])
    assert sorted(outcome.deleted) == ["unit/b.pdf", "unit/never-existed.pdf"] and outcome.failed == {}
    assert s3.keys(BUCKET, "unit/") == []


def test_s3_errors_are_transient_or_permanent(s3):
    with pytest.raises(StorageUnavailable):
        open_storage(f"s3://{BUCKET}", f"http://127.0.0.1:{free_port()}").put("x", b"x")  # nobody listening
    with pytest.raises(StoragePermanentError) as refused:
        open_storage("s3://no-such-bucket-here", s3.url).delete_many(["x"])
    assert "NoSuchBucket" in str(refused.value)
    with pytest.raises(StoragePermanentError):
        open_storage("ftp://somewhere/else")


def test_file_storage_is_atomic_and_refuses_keys_outside_its_root(tmp_path):
    store = FileStorage(tmp_path / "store")
    store.put("receipts/1/a.pdf", b"one")
    store.put("receipts/1/a.pdf", b"two")
    assert store.get("receipts/1/a.pdf") == b"two"
    assert [p.name for p in (tmp_path / "store" / "receipts" / "1").iterdir()] == ["a.pdf"]  # no temp files left
    with pytest.raises(StoragePermanentError):
        store.put("../escape.pdf", b"x")
    (tmp_path / "store" / "receipts" / "1" / "dir.pdf").mkdir()
    outcome = store.delete_many(["receipts/1/a.pdf", "receipts/1/dir.pdf", "receipts/1/missing.pdf"])
    assert outcome.deleted == ["receipts/1/a.pdf", "receipts/1/missing.pdf"] and list(outcome.failed) == [
        "receipts/1/dir.pdf"]


def test_backoff_doubles_from_the_base_and_caps_at_30_seconds():
    assert [backoff_delay(n, 2) for n in range(1, 8)] == [2, 4, 8, 16, 30, 30, 30]
