"""Dramatiq's own tests (from the sdist of the pinned version) pass against our broker: see run_upstream.py."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.upstream.run_upstream import REPO_ROOT, WORK, sdist
from importlib.metadata import version


@pytest.mark.upstream
def test_dramatiqs_own_tests_pass_against_our_broker():
    try:
        sdist(version("dramatiq"))
    except subprocess.CalledProcessError:
        if not any(WORK.glob("dramatiq-*.tar.gz")):
            pytest.skip("Dramatiq's sdist could not be downloaded from the package index")
    outcome = subprocess.run([sys.executable, "-m", "tests.upstream.run_upstream", "-q"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=1500)
    assert outcome.returncode == 0, outcome.stdout[-6000:]
