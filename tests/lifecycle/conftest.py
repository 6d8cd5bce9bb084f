"""A private copy of the checkout per test, with its own var/, port and Redis namespace, driven through `make`.

The copy shares this checkout's .venv (a symlink; `make -o` keeps make from reinstalling into it) and
puts itself first on PYTHONPATH, so supervisord's roles run the copy's code from the copy's folder.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.environment import REPO_ROOT
from tests.support.processes import free_port

COPY_IGNORE = shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", ".pytest_cache", "*.egg-info",
                                     ".schemathesis", "prosaas.env")


class Install:
    def __init__(self, root: Path, env: dict):
        self.root = root
        self.env = env
        self.port = int(env["PROSAAS_BIND"].rsplit(":", 1)[1])
        self.base_url = f"http://{env['PROSAAS_BIND']}"

    def make(self, *targets: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", *targets], cwd=self.root,
                              env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout)

    def prosaas(self, *args: str, env: dict | None = None, cwd: Path | None = None, unset: tuple = (),
                timeout: float = 120) -> subprocess.CompletedProcess:
        """`python -m prosaas ARGS` with the copy's code; `unset` names variables this shell lacks."""
        environment = {key: value for key, value in {**self.env, **(env or {})}.items() if key not in unset}
        return subprocess.run([str(self.root / ".venv" / "bin" / "python"), "-m", "prosaas", *args],
                              cwd=cwd or self.root, env=environment, capture_output=True, text=True, timeout=timeout)

    def supervisord_pid(self) -> int | None:
        try:
            pid = int((self.root / "var" / "supervisord.pid").read_text())
            return pid if b"supervisord" in Path(f"/proc/{pid}/cmdline").read_bytes() else None
        except (OSError, ValueError):
            return None

    def log(self, name: str) -> str:
        path = self.root / "var" / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill_leftovers(self) -> None:
        """SIGKILL the process groups of the supervisord this copy started, if a test left it running."""
        pid = self.supervisord_pid()
        if pid is None:
            return
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for child in children:
            try:
                os.killpg(int(child), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        os.kill(pid, signal.SIGKILL)


def stack_env(root: Path, **overrides: str) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PROSAAS_DATA_DIR", "PROMETHEUS_MULTIPROC_DIR", "MAKEFLAGS", "MAKELEVEL")}
    env.update({"PYTHONPATH": str(root), "PROSAAS_BIND": f"127.0.0.1:{free_port()}",
                "PROSAAS_REDIS_NAMESPACE": f"prosaas-life-{secrets.token_hex(4)}",
                "WEB_WORKERS": "1", "WORKER_PROCESSES": "1", "WORKER_GREENLETS": "4"})
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


@pytest.fixture
def make_install():
    """make_install(**env) -> Install: a fresh copy; REDIS_URL=None gives the embedded valkey."""
    made: list[Install] = []
    # Not under tmp_path: supervisord's and valkey's unix sockets live in the copy's var/, and a socket path
    # may hold only 107 bytes (pytest-xdist's popen-gwN/ level took a long test name over it).
    parent = Path(tempfile.mkdtemp(prefix="prosaas-life-"))

    def factory(**overrides) -> Install:
        root = parent / f"prosaas-{len(made)}"
        shutil.copytree(REPO_ROOT, root, ignore=COPY_IGNORE)
        (root / ".venv").symlink_to(REPO_ROOT / ".venv")
        install = Install(root, stack_env(root, **overrides))
        made.append(install)
        return install

    yield factory
    for install in made:
        if install.supervisord_pid() is not None:
            install.make("stop", timeout=300)
        install.kill_leftovers()
    shutil.rmtree(parent, ignore_errors=True)
