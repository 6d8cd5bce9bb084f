"""Serve an app under the same gunicorn settings as `prosaas web`, and drive it with wrk or the paced generator."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench.support.env import REPO_ROOT

GUNICORN_FLAGS = ["--worker-class", "gevent", "--workers", "2", "--no-control-socket", "--graceful-timeout", "30",
                  "--timeout", "60", "--worker-connections", "1000", "--access-logfile", "-", "--access-logformat",
                  'HTTP_ACCESS method=%(m)s path="%({raw_uri}e)s" status=%(s)s bytes=%(B)s duration_ms=%(M)s']


def wait_http(url: str, method: str = "GET", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.request(method, url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def serve_baseline(app: str, port: int, log_dir: Path, env: dict) -> subprocess.Popen:
    """gunicorn bench.support.apps:<app> with `prosaas web`'s flags."""
    log = open(log_dir / f"gunicorn-{app}-{port}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "gunicorn", f"bench.support.apps:{app}", "--bind",
                             f"127.0.0.1:{port}", *GUNICORN_FLAGS], cwd=REPO_ROOT, env={**os.environ, **env},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def serve_ours(port: int, log_dir: Path, env: dict):
    """The real `prosaas web` (gunicorn + gevent, 2 workers)."""
    from tests.support.processes import RoleProcess

    return RoleProcess(["web"], log_dir / f"web-{port}.log",
                       {**env, "PROSAAS_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": "2"}).start()


def wrk(url: str, *, duration: int = 10, threads: int = 2, connections: int = 50, auth: str = "",
        body: str = "{}", method: str = "POST") -> dict:
    """Closed-loop saturation with wrk; returns requests/s, p50/p99 ms, non-2xx count."""
    env = {**os.environ, "BENCH_AUTH": auth, "BENCH_BODY": body, "BENCH_METHOD": method}
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                          "-s", str(Path(__file__).with_name("post.lua")), url],
                         capture_output=True, text=True, env=env, timeout=duration + 60).stdout

    def latency(label):
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50_ms": latency("50"), "p99_ms": latency("99"), "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else "", "raw": out}


def paced(url: str, rate: float, duration: float, *, auth: str = "", body: str = "{}", method: str = "POST",
          connections: int = 64) -> dict:
    """Open-loop fixed-rate load (bench.support.loadgen) in its own process."""
    command = [sys.executable, "-m", "bench.support.loadgen", "--url", url, "--rate", str(rate), "--duration",
               str(duration), "--connections", str(connections), "--method", method, "--body", body]
    if auth:
        command += ["--header", f"Authorization: {auth}"]
    out = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=duration + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout)


def stop(process) -> None:
    from bench.support.drain import stop_process

    stop_process(process)
