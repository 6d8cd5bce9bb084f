"""`prosaas worker --reload` (development): reload the workers when a source file of ours changes.

Only our packages are watched (never .venv or var/, which overflow inotify), by polling their `.py` files'
modification times once a second (the worker's main process runs under gevent, where watchdog's queues
break); a change sends the process SIGHUP, which Dramatiq turns into a graceful stop and a re-exec.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

from prosaas.install import INSTALL_DIR

PACKAGES = ("prosaas", "actors", "web", "db")
POLL_SECONDS = 1.0
log = logging.getLogger("prosaas.reload")


def source_mtimes() -> dict[str, int]:
    found = {}
    for package in PACKAGES:
        for path in (INSTALL_DIR / package).rglob("*.py"):
            try:
                found[str(path)] = path.stat().st_mtime_ns
            except OSError:  # removed while we looked
                continue
    return found


def _watch() -> None:
    seen = source_mtimes()
    while True:
        time.sleep(POLL_SECONDS)
        now = source_mtimes()
        changed = sorted(path for path in now.keys() | seen.keys() if now.get(path) != seen.get(path))
        if changed:
            log.warning("WORKER_RELOAD path=%s", os.path.relpath(changed[0], INSTALL_DIR))
            os.kill(os.getpid(), signal.SIGHUP)
            while True:  # the process re-executes itself and watches again (a returning thread upsets gevent)
                time.sleep(3600)
        seen = now


def watch_our_packages() -> None:
    threading.Thread(target=_watch, name="prosaas-reload", daemon=True).start()
