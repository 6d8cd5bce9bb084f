"""A web worker freezes its start-up objects out of the garbage collector (web/startup_gc.py)."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.support.environment import REPO_ROOT

PROBE = """
import gc
import web.wsgi
assert web.wsgi.app is not None
print(gc.get_freeze_count(), sum(gc.get_count()))
"""


def test_loading_the_wsgi_app_freezes_what_exists_at_start_up(test_env):
    # gunicorn loads web.wsgi in each worker (no --preload): what that import builds is what must be frozen.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, env={**os.environ, **test_env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, still_tracked = (int(n) for n in done.stdout.split()[-2:])
    assert frozen > 50_000  # the app's modules, models and routes
    assert still_tracked < 1_000  # nothing of start-up is left for a collection to walk
