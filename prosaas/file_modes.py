"""Files a role writes are the service user's alone: umask 077 for every role, the data folder kept 0700.

Recordings, receipts, audio uploads, the SQLite database and temporary files are then created 0600 in
0700 folders whatever the caller's umask. At start the data folder, the SQLite file and `prosaas.env`
(which holds the secrets) are also tightened if an older install or an operator left them readable.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & ~mode:
            path.chmod(mode)
    except OSError:  # missing, or not ours: nothing to tighten
        pass


def make_files_private(data_dir: Path, env_file: Path = Path("prosaas.env")) -> None:
    """Set umask 077 for this process (and the processes it starts) and tighten what already exists."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    _tighten(data_dir, PRIVATE_DIR)
    for child in data_dir.iterdir() if data_dir.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            _tighten(child, PRIVATE_DIR)
        elif child.suffix in (".db", ".env") or child.name.endswith((".db-wal", ".db-shm")):
            _tighten(child, PRIVATE_FILE)
    _tighten(env_file, PRIVATE_FILE)
