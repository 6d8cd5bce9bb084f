"""Is the web bind address free, and if not, which process holds it (from /proc/net/tcp* and /proc/*/fd)."""
from __future__ import annotations

import errno
import os
import socket
from pathlib import Path


def bind_error(bind: str) -> OSError | None:
    """Try the bind gunicorn will do; None when it would succeed."""
    host, _, port = bind.rpartition(":")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: TIME_WAIT is no obstacle
        try:
            probe.bind((host or "0.0.0.0", int(port)))
        except OSError as exc:
            return exc
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def port_holders(port: int) -> list[str]:
    """'pid 123 (python -m http.server 8000)' for each process with a listening socket on the port we can see."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    holders = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or not wanted:
            continue
        try:
            links = {os.readlink(fd.path) for fd in os.scandir(f"{entry.path}/fd")}
        except OSError:  # another user's process, or gone
            continue
        if links & wanted:
            try:
                command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                command = "?"
            holders.append(f"pid {entry.name} ({command.strip()[:120]})")
    return holders


def describe_busy_bind(bind: str) -> str | None:
    """A sentence naming the port and its holder when the bind would fail, else None."""
    error = bind_error(bind)
    if error is None:
        return None
    port = int(bind.rpartition(":")[2])
    if error.errno != errno.EADDRINUSE:
        return f"cannot bind PROSAAS_BIND={bind}: {error.strerror or error}"
    holders = port_holders(port)
    held_by = ", ".join(holders) if holders else "a process this user cannot see (try `ss -ltnp`)"
    return (f"port {port} (PROSAAS_BIND={bind}) is already in use by {held_by}; stop it or set PROSAAS_BIND "
            f"to another address")
