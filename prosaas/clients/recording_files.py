"""Local audio files under PROSAAS_DATA_DIR: written via a temporary file and an atomic rename, never truncated.

A file at its final path is complete by construction: it is renamed there only after its byte
count was checked. A crash mid-write leaves at most a `.part` file, which `remove_stale_parts` deletes.
"""
from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import Iterable, Optional

from prosaas.settings import get_settings

SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
PART_SUFFIX = ".part"


class IncompleteWrite(Exception):
    """Fewer (or more) bytes arrived than announced; the temporary file was discarded (retryable)."""


class TooLarge(Exception):
    """More bytes than the caller allows (an upload limit)."""


def root(kind: str = "recordings") -> Path:
    return (get_settings().data_dir / kind).resolve()


def relative_path(business_id: int, name: str) -> str:
    if not SAFE_NAME.match(name) or name.startswith("."):
        raise ValueError(f"unsafe file name {name!r}")
    return f"{int(business_id)}/{name}"


def absolute(relative: str, kind: str = "recordings") -> Path:
    base = root(kind)
    path = (base / relative).resolve()
    if base not in path.parents:
        raise ValueError("path escapes the storage directory")
    return path


def existing_size(path: Path) -> Optional[int]:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def write_atomically(path: Path, chunks: Iterable[bytes], *, expected_size: Optional[int] = None,
                     max_size: Optional[int] = None) -> int:
    """Stream chunks to `path` via a temporary file in the same directory; returns the byte count.

    Raises IncompleteWrite when `expected_size` is given and differs, TooLarge past `max_size`;
    in both cases (and on any error) the temporary file is removed and `path` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{PART_SUFFIX}")
    written = 0
    try:
        with open(temp, "wb") as handle:
            for chunk in chunks:
                if not chunk:
                    continue
                written += len(chunk)
                if max_size is not None and written > max_size:
                    raise TooLarge(f"more than {max_size} bytes")
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if expected_size is not None and written != expected_size:
            raise IncompleteWrite(f"received {written} bytes, expected {expected_size}")
        os.replace(temp, path)
        _fsync_dir(path.parent)
        return written
    finally:
        if temp.exists():
            temp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def delete(path: Path) -> bool:
    """Delete a file; False when it was already gone (so cleanup is idempotent)."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def remove_stale_parts(kind: str = "recordings", older_than_seconds: float = 3600) -> int:
    """Delete temporary files left by killed writers."""
    base = root(kind)
    if not base.exists():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for part in base.glob(f"*/.*{PART_SUFFIX}"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
