"""Object storage for uploaded files: a directory (`file://…`, the default under PROSAAS_DATA_DIR) or an
S3-compatible bucket (`s3://bucket` with S3_ENDPOINT_URL, e.g. Cloudflare R2), behind put/get/delete,
plus what shared audio files need: size, ranged reads and whole-or-nothing uploads of a local file.

Errors say what a caller should do: StorageUnavailable (the store is down or busy: try again later)
or StoragePermanentError (this request can never succeed: access denied, bad key). Deleting a key
that does not exist succeeds, so deletes can be repeated after a crash.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import urlparse

from prosaas.errors import PermanentError

log = logging.getLogger("prosaas.clients.storage")

S3_TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling",
                      "ThrottlingException", "RequestTimeTooSkewed", "503", "500", "502", "504"}


class StorageError(Exception):
    """Base of storage errors."""


class StorageUnavailable(StorageError):
    """The store could not be reached or answered 5xx / throttled: retrying later can succeed."""


class StoragePermanentError(StorageError, PermanentError):
    """The store refused this request for good (access denied, invalid key): retrying cannot help."""

    reason = "storage_refused"


class StorageNotFound(StoragePermanentError):
    reason = "storage_not_found"


class StorageIncomplete(StorageUnavailable):
    """The temporary object's size differs from what was sent: nothing became visible; try again."""


PARTS_PREFIX = "parts/"  # temporary objects of put_file; remove_stale_parts sweeps what a crash left


def _part_key(key: str) -> str:
    return f"{PARTS_PREFIX}{uuid.uuid4().hex}-{key.rsplit('/', 1)[-1]}.part"


class ByteWindow:
    """A read()-able window of an open binary file (no fileno(): a server must not sendfile the whole file)."""

    def __init__(self, handle, first: int, last: Optional[int]):
        self.handle = handle
        handle.seek(first)
        self.remaining = None if last is None else last - first + 1

    def read(self, size: int = -1) -> bytes:
        if self.remaining is None:
            return self.handle.read(size)
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.handle.read(size)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


@dataclass(frozen=True)
class DeleteOutcome:
    """Per-key result of delete_many: deleted keys (missing ones count as deleted) and refusals."""

    deleted: list[str]
    failed: dict[str, str]  # key -> why


class FileStorage:
    """Objects as files under a root directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StoragePermanentError(f"invalid storage key {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            temp.write_bytes(data)
            os.replace(temp, path)
        except PermissionError as exc:
            raise StoragePermanentError(f"cannot write {key}: permission denied") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageNotFound(f"no object {key}") from exc
        except PermissionError as exc:
            raise StoragePermanentError(f"cannot read {key}: permission denied") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except (PermissionError, IsADirectoryError) as exc:
            raise StoragePermanentError(f"cannot delete {key}: {type(exc).__name__}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot delete {key}: {exc.strerror or exc}") from exc

    def delete_many(self, keys: Iterable[str]) -> DeleteOutcome:
        deleted, failed = [], {}
        for key in keys:
            try:
                self.delete(key)
                deleted.append(key)
            except StoragePermanentError as exc:
                failed[key] = str(exc)
        return DeleteOutcome(deleted, failed)

    def size(self, key: str) -> Optional[int]:
        """The object's size in bytes, None when there is no such object."""
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageUnavailable(f"cannot stat {key}: {exc.strerror or exc}") from exc

    def open_range(self, key: str, first: int = 0, last: Optional[int] = None) -> ByteWindow:
        """A readable stream of bytes first..last (inclusive; None: to the end); close() it."""
        try:
            return ByteWindow(open(self._path(key), "rb"), first, last)
        except FileNotFoundError as exc:
            raise StorageNotFound(f"no object {key}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror or exc}") from exc

    def local_path(self, key: str) -> Path:
        """Where the object lives on this host's disk (readers that need a file use it in place)."""
        return self._path(key)

    def put_file(self, key: str, source: Path, *, expected_size: int,
                 content_type: str = "application/octet-stream") -> None:
        """Copy a local file to a temporary object, check its size, then rename it to `key` (never partial)."""
        path, temp = self._path(key), self._path(_part_key(key))
        try:
            temp.parent.mkdir(parents=True, exist_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as reader, open(temp, "wb") as writer:
                shutil.copyfileobj(reader, writer, 1024 * 1024)
                writer.flush()
                os.fsync(writer.fileno())
            if temp.stat().st_size != expected_size:
                raise StorageIncomplete(f"put {key}: stored {temp.stat().st_size} bytes, expected {expected_size}")
            os.replace(temp, path)
        except PermissionError as exc:
            raise StoragePermanentError(f"cannot write {key}: permission denied") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror or exc}") from exc
        finally:
            temp.unlink(missing_ok=True)

    def remove_stale_parts(self, older_than_seconds: float) -> int:
        """Delete temporary objects older than this (left by a killed writer); returns how many."""
        cutoff, removed = time.time() - older_than_seconds, 0
        parts = self.root / PARTS_PREFIX
        for part in (parts.iterdir() if parts.is_dir() else ()):
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class S3Storage:
    """Objects in an S3-compatible bucket through boto3 (one client per process, thread-safe)."""

    def __init__(self, bucket: str, endpoint_url: Optional[str]):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"},
                          s3={"addressing_style": "path"}),
        )

    def _call(self, what: str, function, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code in S3_TRANSIENT_CODES or status >= 500 or status == 429:
                raise StorageUnavailable(f"{what}: {code or status}") from exc
            if code in ("NoSuchKey", "404"):
                raise StorageNotFound(f"{what}: no such object") from exc
            raise StoragePermanentError(f"{what}: {code or status}") from exc
        except BotoCoreError as exc:  # endpoint unreachable, timeouts, broken connections
            raise StorageUnavailable(f"{what}: {type(exc).__name__}") from exc

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._call(f"put {key}", self.client.put_object, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        response = self._call(f"get {key}", self.client.get_object, Key=key)
        try:
            return response["Body"].read()
        except Exception as exc:  # the connection broke mid-body
            raise StorageUnavailable(f"get {key}: {type(exc).__name__}") from exc

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", self.client.delete_object, Key=key)

    def delete_many(self, keys: Iterable[str]) -> DeleteOutcome:
        """One DeleteObjects request per 1,000 keys; per-key transient errors raise StorageUnavailable."""
        keys = list(keys)
        deleted, failed = [], {}
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            if not chunk:
                continue
            response = self._call(f"delete {len(chunk)} objects", self.client.delete_objects,
                                  Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            errors = {e["Key"]: f"{e.get('Code')}: {e.get('Message', '')}".strip()
                      for e in response.get("Errors", [])}
            transient = [k for k, why in errors.items() if why.split(":")[0] in S3_TRANSIENT_CODES]
            if transient:
                raise StorageUnavailable(f"delete {len(transient)} objects: {errors[transient[0]]}")
            failed.update(errors)
            deleted.extend(k for k in chunk if k not in errors)
        return DeleteOutcome(deleted, failed)

    def size(self, key: str) -> Optional[int]:
        try:
            return int(self._call(f"head {key}", self.client.head_object, Key=key)["ContentLength"])
        except StorageNotFound:
            return None

    def open_range(self, key: str, first: int = 0, last: Optional[int] = None):
        """A ranged GET: the object's bytes first..last (inclusive; None: to the end) as a stream."""
        extra = {"Range": f"bytes={first}-{'' if last is None else last}"} if first or last is not None else {}
        return self._call(f"get {key}", self.client.get_object, Key=key, **extra)["Body"]

    def put_file(self, key: str, source: Path, *, expected_size: int,
                 content_type: str = "application/octet-stream") -> None:
        """Upload to a temporary object, check its size with HEAD, then copy it to `key` (S3 copies are
        all-or-nothing) and delete the temporary one: `key` never shows a partial object."""
        temp = _part_key(key)
        try:
            with open(source, "rb") as body:
                self._call(f"put {temp}", self.client.put_object, Key=temp, Body=body, ContentType=content_type)
            stored = self.size(temp)
            if stored != expected_size:
                raise StorageIncomplete(f"put {key}: stored {stored} bytes, expected {expected_size}")
            self._call(f"copy {key}", self.client.copy_object, Key=key, ContentType=content_type,
                       MetadataDirective="REPLACE", CopySource={"Bucket": self.bucket, "Key": temp})
        finally:
            try:
                self.delete(temp)
            except StorageError:
                log.warning("STORAGE_PART_LEFT key=%s", temp)  # remove_stale_parts takes it later

    def remove_stale_parts(self, older_than_seconds: float) -> int:
        import datetime as dt

        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=older_than_seconds)
        stale = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PARTS_PREFIX)
        try:
            for page in pages:
                stale.extend(item["Key"] for item in page.get("Contents", []) if item["LastModified"] < cutoff)
        except Exception as exc:
            raise StorageUnavailable(f"list {PARTS_PREFIX}: {type(exc).__name__}") from exc
        return len(self.delete_many(stale).deleted)


def open_storage(url: str, endpoint_url: Optional[str] = None):
    """A storage backend for a URL: `file:///path` or `s3://bucket` (with an S3-compatible endpoint)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileStorage(Path(parsed.path))
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Storage(parsed.netloc, endpoint_url)
    raise StoragePermanentError(f"STORAGE_URL must be file:///dir or s3://bucket, not {url!r}")


@functools.lru_cache(maxsize=4)
def _cached(url: str, endpoint_url: Optional[str], pid: int):
    return open_storage(url, endpoint_url)


def process_storage(url: str, endpoint_url: Optional[str] = None):
    """This process's store for `url` (opened once per process: boto3 clients are not fork-safe)."""
    return _cached(url, endpoint_url, os.getpid())


def from_settings(settings):
    """The store configured by STORAGE_URL / S3_ENDPOINT_URL, for this process."""
    return process_storage(settings.effective_storage_url, settings.s3_endpoint_url)
