"""File modes: every role runs with umask 077, so what it writes (SQLite database, receipts, audio uploads) is
0600 in 0700 folders, and an existing prosaas.env or data folder left readable is tightened at start.

Real roles as subprocesses started with the usual umask 022: `prosaas migrate` on SQLite, `prosaas web` (gunicorn)
storing an uploaded receipt and an audio session.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.fake_twilio import make_mp3
from tests.support.processes import start_web

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open_umask():
    os.umask(0o022)


def _private(tree: Path) -> list[str]:
    """Everything under `tree` that anyone but its owner may read: empty when all is private."""
    exposed = []
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        wanted = 0o700 if path.is_dir() else 0o600
        if _mode(path) & ~wanted:
            exposed.append(f"{path.relative_to(tree)} {oct(_mode(path))}")
    return exposed


def test_migrate_on_sqlite_creates_a_private_database_and_tightens_prosaas_env(tmp_path):
    data_dir = tmp_path / "data"
    env_file = tmp_path / "prosaas.env"
    env_file.write_text("LOG_LEVEL=INFO\n")
    env_file.chmod(0o644)
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PROSAAS_DATA_DIR=str(data_dir), DATABASE_URL=f"sqlite:///{data_dir / 'prosaas.db'}")
    done = subprocess.run([sys.executable, "-m", "prosaas", "migrate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, preexec_fn=_open_umask)
    assert done.returncode == 0, done.stderr
    assert (data_dir / "prosaas.db").exists()
    assert _private(data_dir) == []
    assert _mode(env_file) == 0o600


def test_the_web_role_stores_receipts_and_audio_privately(tmp_path, business):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)  # as an older install left it
    old_umask = os.umask(0o022)
    try:
        role, base = start_web(tmp_path, env={"PROSAAS_DATA_DIR": str(data_dir),
                                              "STORAGE_URL": f"file://{data_dir / 'storage'}"})
    finally:
        os.umask(old_umask)
    try:
        receipt = requests.post(f"{base}/api/receipts", headers=business.headers, timeout=30,
                                data={"vendor": "Acme", "amount": "1.00", "currency": "ILS", "issued_at": "2026-11-01"},
                                files={"file": ("r.pdf", PDF, "application/pdf")})
        assert receipt.status_code == 201, receipt.text
        audio = requests.post(f"{base}/api/sessions", headers={**business.headers, "Content-Type": "audio/mpeg"},
                              data=make_mp3(0.5), timeout=30)
        assert audio.status_code == 202, audio.text
    finally:
        role.stop()
    stored = [p for p in data_dir.rglob("*") if p.is_file() and p.suffix in (".pdf", ".mp3")]
    assert len(stored) >= 2, sorted(str(p) for p in data_dir.rglob("*"))
    assert _private(data_dir) == []
