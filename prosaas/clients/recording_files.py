"""Recording and audio-session files in the shared object store (STORAGE_URL), so any host reads what any wrote.

A file is complete under its key or absent: bytes are spooled to a local temporary file, their count
checked, then stored through a temporary object that becomes visible only whole (storage.put_file).
A crash leaves at most a temporary object, which `RecordingFiles.remove_stale_parts` deletes. Rows keep the
`<business>/<name>` part; the key adds the kind (`recordings/…`, `sessions/…`).
"""
from __future__ import annotations

import contextlib
import mimetypes
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

from prosaas.clients import storage

SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
KINDS = ("recordings", "sessions")


class IncompleteWrite(Exception):
    """Fewer (or more) bytes arrived than announced; nothing was stored (retryable)."""


class TooLarge(Exception):
    """More bytes than the caller allows (an upload limit)."""


@dataclass(frozen=True)
class StoredFile:
    """One audio file in the store: `relative` is what the database row keeps."""

    relative: str
    kind: str = "recordings"

    def __post_init__(self):
        business, _, name = self.relative.partition("/")
        if self.kind not in KINDS or not business.isdigit() or not SAFE_NAME.match(name) or name.startswith("."):
            raise ValueError(f"unsafe stored file {self.kind}/{self.relative!r}")

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.relative}"

    @property
    def name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


def relative_path(business_id: int, name: str) -> str:
    if not SAFE_NAME.match(name) or name.startswith("."):
        raise ValueError(f"unsafe file name {name!r}")
    return f"{int(business_id)}/{name}"


def stored_file(business_id: int, name: str, kind: str = "recordings") -> StoredFile:
    return StoredFile(relative_path(business_id, name), kind)


class RecordingFiles:
    """Audio files in one object store, spooled through a local directory on their way in and out.

    Parameters: `storage_url` (`file:///dir` or `s3://bucket`), `spool_dir` (local temporary files),
    `s3_endpoint_url` (an S3-compatible endpoint). The store is opened once per process, on first use.

    >>> files = RecordingFiles("file:///srv/prosaas/storage", Path("/srv/prosaas/tmp"))
    >>> files.write_atomically(stored_file(7, "RE1.mp3"), [b"ID3..."], expected_size=6)
    """

    def __init__(self, storage_url: str, spool_dir: Path, *, s3_endpoint_url: Optional[str] = None):
        self.storage_url = storage_url
        self.s3_endpoint_url = s3_endpoint_url
        self.spool_dir = spool_dir

    @property
    def store(self):
        """This process's store: looked up on each use, so a RecordingFiles built before a fork stays safe."""
        return storage.process_storage(self.storage_url, self.s3_endpoint_url)

    def existing_size(self, file: StoredFile) -> Optional[int]:
        """The stored object's size; None when it is not (yet, or any more) in the store."""
        return self.store.size(file.key)

    def _spool(self) -> Path:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        return self.spool_dir

    def write_atomically(self, file: StoredFile, chunks: Iterable[bytes], *, expected_size: Optional[int] = None,
                         max_size: Optional[int] = None) -> int:
        """Store chunks under `file`'s key, whole or not at all; returns the byte count.

        Raises IncompleteWrite when `expected_size` is given and differs, TooLarge past `max_size`,
        storage errors when the store fails; in every case the key is untouched.
        """
        with tempfile.NamedTemporaryFile(dir=self._spool(), prefix=".spool-", suffix=".part") as spool:
            written = 0
            for chunk in chunks:
                if not chunk:
                    continue
                written += len(chunk)
                if max_size is not None and written > max_size:
                    raise TooLarge(f"more than {max_size} bytes")
                spool.write(chunk)
            spool.flush()
            if expected_size is not None and written != expected_size:
                raise IncompleteWrite(f"received {written} bytes, expected {expected_size}")
            self.store.put_file(file.key, Path(spool.name), expected_size=written, content_type=file.content_type)
        return written

    def open_range(self, file: StoredFile, first: int = 0, last: Optional[int] = None):
        """A stream of the file's bytes first..last (inclusive): a ranged GET on S3, a seek on disk."""
        return self.store.open_range(file.key, first, last)

    @contextlib.contextmanager
    def local_copy(self, file: StoredFile) -> Iterator[Path]:
        """A path to the file's bytes on this host for decoders: in place on disk, else a temporary copy."""
        store = self.store
        if hasattr(store, "local_path"):
            path = store.local_path(file.key)
            if not path.exists():
                raise storage.StorageNotFound(f"no object {file.key}")
            yield path
            return
        with tempfile.NamedTemporaryFile(dir=self._spool(), prefix=".copy-", suffix=Path(file.name).suffix) as copy:
            body = store.open_range(file.key)
            try:
                for chunk in iter(lambda: body.read(1024 * 1024), b""):
                    copy.write(chunk)
            finally:
                body.close()
            copy.flush()
            yield Path(copy.name)

    def delete(self, file: StoredFile) -> bool:
        """Delete the stored file; False when it was already gone (so cleanup is idempotent)."""
        store = self.store
        existed = store.size(file.key) is not None
        store.delete(file.key)
        return existed

    def remove_stale_parts(self, older_than_seconds: float = 3600) -> int:
        """Delete temporary objects left by killed writers."""
        return self.store.remove_stale_parts(older_than_seconds)


def from_settings(settings) -> RecordingFiles:
    """The files of STORAGE_URL / S3_ENDPOINT_URL, spooled under PROSAAS_DATA_DIR/tmp."""
    return RecordingFiles(settings.effective_storage_url, settings.data_dir / "tmp",
                          s3_endpoint_url=settings.s3_endpoint_url)
