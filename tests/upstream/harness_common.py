"""Helpers Dramatiq's tests import from `.common` (copied next to them as common.py; written for prosaas)."""
from __future__ import annotations

import platform
from contextlib import contextmanager

import pytest
from dramatiq import Worker


@contextmanager
def worker(*args, **kwargs):
    started = Worker(*args, **kwargs)
    try:
        started.start()
        yield started
    finally:
        started.stop()


skip_on_windows = pytest.mark.skipif(platform.system() == "Windows", reason="not on Windows")
skip_on_pypy = pytest.mark.skipif(platform.python_implementation() == "PyPy", reason="not on PyPy")


def _gevent_active() -> bool:
    from dramatiq.threading import is_gevent_active

    return is_gevent_active()


skip_with_gevent = pytest.mark.skipif(_gevent_active(), reason="Behaviour with gevent is different.")
skip_without_gevent = pytest.mark.skipif(not _gevent_active(), reason="Behaviour without gevent is different.")
