"""POST|GET /api/receipts and POST /api/receipts/delete through the in-process app (file:// storage)."""
from __future__ import annotations

import requests

from db import receipts_store
from prosaas.clients import storage
from prosaas.runtime import get_runtime

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
FIELDS = {"vendor": "Shufersal Deal", "amount": "123.40", "currency": "ils", "issued_at": "2026-11-01"}


def upload(client, business, data=PDF, content_type="application/pdf", filename="r.pdf", **fields):
    form = {**FIELDS, **fields}
    form = {k: v for k, v in form.items() if v is not None}
    files = {"file": (filename, data, content_type)} if data is not None else None
    files = files or {"x": ("", b"")}
    prepared = requests.Request("POST", "http://test/api/receipts", data=form, files=files).prepare()
    return client.simulate_post("/api/receipts", body=prepared.body,
                                headers={**business.headers, "Content-Type": prepared.headers["Content-Type"]})


def test_upload_stores_the_file_and_lists_it_paged(client, business, make_business):
    created = []
    for data, content_type in ((PDF, "application/pdf"), (JPEG, "image/jpeg"), (PNG, "image/png"),
                               (WEBP, "image/webp")):
        answer = upload(client, business, data=data, content_type=content_type)
        assert answer.status_code == 201, answer.text
        body = answer.json
        assert body["content_type"] == content_type and body["size_bytes"] == len(data)
        assert body["amount"] == "123.40" and body["currency"] == "ILS" and body["issued_at"] == "2026-11-01"
        created.append((body["id"], data))
    with get_runtime().database.session() as session:
        for receipt_id, data in created:
            row = receipts_store.get_receipt(session, business.id, receipt_id)
            assert row.storage_key.startswith(f"receipts/{business.id}/")
            assert storage.from_settings(get_runtime().settings).get(row.storage_key) == data  # the bytes really are in object storage

    first = client.simulate_get("/api/receipts", params={"limit": 3}, headers=business.headers).json
    assert first["total"] == 4 and [r["id"] for r in first["receipts"]] == [c[0] for c in created][::-1][:3]
    second = client.simulate_get("/api/receipts", params={"limit": 3, "before_id": first["next_before_id"]},
                                 headers=business.headers).json
    assert [r["id"] for r in second["receipts"]] == [created[0][0]] and second["next_before_id"] is None
    other = make_business()
    assert client.simulate_get("/api/receipts", headers=other.headers).json == {"receipts": [], "total": 0,
                                                                                 "next_before_id": None}


def test_upload_rejects_wrong_types_sizes_and_fields_with_clear_messages(client, business):
    answer = upload(client, business, data=b"hello, not a receipt", content_type="text/plain", filename="a.txt")
    assert answer.status_code == 415 and "PDF, JPEG, PNG or WebP" in answer.json["description"]
    answer = upload(client, business, data=PDF, content_type="image/png")
    assert answer.status_code == 415 and "declared as image/png" in answer.json["description"]
    too_big = PDF + b"0" * get_runtime().settings.receipt_max_bytes
    answer = upload(client, business, data=too_big)
    assert answer.status_code == 413 and "at most" in answer.json["description"]
    answer = upload(client, business, amount="12.345", currency="shekel", issued_at="yesterday", vendor=None)
    assert answer.status_code == 422
    for name in ("vendor", "amount", "currency", "issued_at"):
        assert name in answer.json["description"]
    answer = upload(client, business, data=None)
    assert answer.status_code == 422 and "file" in answer.json["description"]
    answer = client.simulate_post("/api/receipts", json=FIELDS, headers=business.headers)
    assert answer.status_code == 415 and "multipart/form-data" in answer.json["description"]
    assert client.simulate_get("/api/receipts", headers=business.headers).json["total"] == 0  # nothing stored
    answer = upload(client, business, issued_at="2026-11-01T09:30:00+02:00")
    assert answer.status_code == 201 and answer.json["issued_at"] == "2026-11-01"


def test_delete_request_is_validated_and_one_active_job_per_business(client, business, make_business):
    for bad in ({}, {"all": False}, {"ids": []}, {"all": True, "ids": [1]}, {"ids": ["x"]}):
        answer = client.simulate_post("/api/receipts/delete", json=bad, headers=business.headers)
        assert answer.status_code == 422, (bad, answer.text)
    first = client.simulate_post("/api/receipts/delete", json={"all": True}, headers=business.headers)
    assert first.status_code == 202 and first.json["created"] is True
    again = client.simulate_post("/api/receipts/delete", json={"ids": [1, 2]}, headers=business.headers)
    assert again.status_code == 202 and again.json["job_id"] == first.json["job_id"] and again.json["created"] is False
    job = client.simulate_get(f"/api/jobs/{first.json['job_id']}", headers=business.headers).json
    assert job["type"] == "receipts_delete" and job["queue"] == "maintenance" and job["status"] == "queued"
    other = make_business()
    theirs = client.simulate_post("/api/receipts/delete", json={"all": True}, headers=other.headers)
    assert theirs.status_code == 202 and theirs.json["job_id"] != first.json["job_id"]
    for owner in (business, other):  # leave no active jobs behind for other tests' workers
        for job_id in (first.json["job_id"], theirs.json["job_id"]):
            client.simulate_post(f"/api/jobs/{job_id}/cancel", headers=owner.headers)
