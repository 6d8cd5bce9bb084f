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
