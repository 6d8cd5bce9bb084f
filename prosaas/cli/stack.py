"""The supervisord stack of this install: is it running, which programs it defines, how to stop it for real.

`supervisorctl shutdown` returns as soon as supervisord has the request; the roles take seconds more
to exit. `stop_stack` waits until supervisord and every process group it started are gone, so the
next start never meets a port or socket still held, and names whatever did not exit.
"""
from __future__ import annotations

import os
import signal
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

from prosaas.install import INSTALL_DIR

SUPERVISORD_CONF = INSTALL_DIR / "supervisord.conf"
RUN_DIR = INSTALL_DIR / "var"
SOCKET = RUN_DIR / "supervisord.sock"
PIDFILE = RUN_DIR / "supervisord.pid"
PROGRAMS_DIR = RUN_DIR / "supervisord.d"  # included by supervisord.conf: programs this configuration adds

# The embedded valkey: first to start, last to stop (lowest priority), so workers can still hand back
# prefetched messages and deregister while they stop.
EMBEDDED_REDIS_PROGRAM = """\
; Written by `prosaas run` because REDIS_URL is unset: the embedded valkey server.
[program:redis]
command={python} -m prosaas embedded-redis
directory={install}
priority=1
startsecs=1
autorestart=true
stopsignal=TERM
stopwaitsecs=30
stdout_logfile={install}/var/log/redis.log
redirect_stderr=true
"""


def write_programs(settings, python: str) -> None:
    """Define exactly the optional programs this configuration runs (today: the embedded valkey)."""
    PROGRAMS_DIR.mkdir(parents=True, exist_ok=True)
    redis_conf = PROGRAMS_DIR / "redis.conf"
    if settings.uses_embedded_redis:
        redis_conf.write_text(EMBEDDED_REDIS_PROGRAM.format(python=python, install=INSTALL_DIR))
    else:
        redis_conf.unlink(missing_ok=True)


def supervisord_pid() -> int | None:
    """The pid of this install's supervisord when it is alive, else None (a stale pidfile counts as none)."""
    try:
        pid = int(PIDFILE.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"supervisord" in cmdline else None


def rpc() -> xmlrpc.client.ServerProxy:
    from supervisor.xmlrpc import SupervisorTransport

    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{SOCKET}"))


def program_pids() -> dict[str, int]:
    """{program name: pid} of the programs supervisord runs right now."""
    return {info["name"]: info["pid"] for info in rpc().supervisor.getAllProcessInfo() if info["pid"]}


def _process_groups() -> dict[int, list[int]]:
    """{process group id: [pids]} of every process on the host, read from /proc."""
    groups: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z":
            groups.setdefault(int(fields[2]), []).append(int(entry.name))
    return groups


@dataclass
class StopOutcome:
    stopped: bool
    still_running: dict[str, list[int]] = field(default_factory=dict)  # name -> pids left after the wait


def stop_stack(timeout: float) -> StopOutcome:
    """Ask supervisord to shut down (it stops programs in reverse priority order) and wait for every process."""
    pid = supervisord_pid()
    if pid is None:
        return StopOutcome(stopped=True)
    try:
        programs = program_pids()  # supervisord puts each program in its own process group
        rpc().supervisor.shutdown()
    except (OSError, xmlrpc.client.Error):  # its socket is gone or refuses us: SIGTERM is the same request
        programs = {}
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while True:
        groups = _process_groups()
        left = {name: groups[pgid] for name, pgid in programs.items() if pgid in groups}
        if pid in {p for pids in groups.values() for p in pids}:
            left["supervisord"] = [pid]
        if not left:
            return StopOutcome(stopped=True)
        if time.monotonic() > deadline:
            return StopOutcome(stopped=False, still_running=left)
        time.sleep(0.2)
