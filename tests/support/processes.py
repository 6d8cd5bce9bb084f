"""Start the real roles as subprocesses (web under gunicorn, workers, scheduler) and wait on them."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import requests

from tests.support.environment import REPO_ROOT, free_port as environment_free_port


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy; returns its value or fails with `what`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the thing may not be up yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error!r})"
                                                                              if last_error else ""))


def free_port() -> int:
    """A random free port below the kernel's ephemeral range (see environment.free_port).

    Not `bind(port 0)`: that hands out ports from the range outgoing connections use, so while a private
    server restarts on its port, another test process (pytest-xdist) could be given that port, as a
    connection's local port or for a server of its own, and its roles would talk to ours.
    """
    return environment_free_port()


class RoleProcess:
    """A prosaas role started as `python -m prosaas ROLE ...`, with its output in a log file."""

    def __init__(self, args: list[str], log_path: Path, env: Optional[dict] = None):
        self.args = args
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "RoleProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "prosaas", *self.args], cwd=REPO_ROOT, env=self.env,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def child_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def signal(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL the role and every process it started (its own session)."""
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)

    def stop(self, timeout: float = 30) -> Optional[int]:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_group()
        else:
            self.kill_group()
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_web(tmp: Path, env: Optional[dict] = None) -> tuple[RoleProcess, str]:
    port = free_port()
    role = RoleProcess(["web"], tmp / f"web-{port}.log", {"PROSAAS_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": "1",
                                                           **(env or {})}).start()
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200, 60, what=f"web at {base}")
    return role, base


def start_worker(tmp: Path, *, queues: str = "default", processes: int = 1, greenlets: int = 10,
                 modules: tuple[str, ...] = ("tests.support.sample_actors",), env: Optional[dict] = None,
                 name: str = "worker") -> RoleProcess:
    args = ["worker", "--queues", queues]
    for module in modules:
        args += ["--module", module]
    role = RoleProcess(args, tmp / f"{name}-{time.monotonic_ns()}.log",
                       {"WORKER_PROCESSES": str(processes), "WORKER_GREENLETS": str(greenlets), **(env or {})}).start()
    wait_for(lambda: role.log().count("WORKER_STARTED") >= processes or role.process.poll() is not None, 60,
             what="worker boot")
    # Booted is what counts: a worker that started and then died running a job (a test's crashing actor) is
    # the caller's business, not a boot failure.
    assert role.log().count("WORKER_STARTED") >= processes, f"worker exited before it started:\n{role.log()[-3000:]}"
    return role


def start_scheduler(tmp: Path, env: Optional[dict] = None, name: str = "scheduler") -> RoleProcess:
    role = RoleProcess(["scheduler"], tmp / f"{name}-{time.monotonic_ns()}.log", env).start()
    wait_for(lambda: "SCHEDULER_STARTED" in role.log() or role.process.poll() is not None, 60, what="scheduler boot")
    assert role.process.poll() is None, f"scheduler exited early:\n{role.log()[-3000:]}"
    return role


def run_cli(*args: str, env: Optional[dict] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prosaas", *args], cwd=REPO_ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def json_of(completed: subprocess.CompletedProcess) -> dict:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)
