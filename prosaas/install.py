"""Where this install lives: the folder holding `supervisord.conf`, `prosaas.env` and `var/`, whatever the cwd.

A checkout (or `pip install -e`) is found from the package's own location, so `prosaas` run from any
directory reads the same `prosaas.env` and data dir as the roles supervisord starts there. A plain
site-packages install has no such folder and falls back to the working directory.
"""
from __future__ import annotations

from pathlib import Path


def find_install_dir() -> Path:
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / "supervisord.conf").is_file() else Path.cwd().resolve()


INSTALL_DIR = find_install_dir()
ENV_FILE = INSTALL_DIR / "prosaas.env"
