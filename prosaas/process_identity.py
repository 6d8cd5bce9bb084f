"""Is the worker process a registry entry names still running? Answered from /proc on the same host only.

A pid alone is not an identity: pids are reused, and two containers on one kernel share a boot id but
not a pid namespace. So an entry records the kernel's boot id, this process's pid namespace, its pid and
its start time (clock ticks since boot, field 22 of /proc/<pid>/stat). Another process can judge that
entry only if it runs under the same boot id and pid namespace; anywhere else the answer is "unknown"
and the heartbeat timeout decides, as before.
"""
from __future__ import annotations

import enum
import os
from functools import lru_cache


class Liveness(enum.Enum):
    ALIVE = "alive"
    EXITED = "exited"    # same host, and that pid is gone, a zombie, or another process now
    UNKNOWN = "unknown"  # another host (or namespace), or an entry written before identities were recorded


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may itself contain spaces and parentheses)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    return stat[stat.rfind(")") + 2:].split()


@lru_cache(maxsize=1)
def host_identity() -> dict | None:
    """This kernel's boot id and this process's pid namespace, or None where /proc cannot be trusted.

    /proc must be mounted for our own pid namespace: where it is not, /proc/<pid> names other processes.
    """
    boot_id = _read("/proc/sys/kernel/random/boot_id")
    try:
        pid_namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    if not boot_id or (_read("/proc/self/stat") or "").split(" ", 1)[0] != str(os.getpid()):
        return None
    return {"boot_id": boot_id, "pid_ns": pid_namespace}


def process_identity(pid: int | None = None) -> dict:
    """What a registry entry records about a process (this one by default); empty where /proc cannot say,
    and an empty identity is judged "unknown"."""
    host = host_identity()
    pid = os.getpid() if pid is None else pid
    fields = _stat_fields(pid) if host else None
    # fields[0] is the state (field 3 of the stat line); the start time is field 22.
    return {**host, "pid": pid, "start_ticks": int(fields[19])} if fields else {}


def liveness(entry: dict) -> Liveness:
    """Judge a recorded identity (process_identity() written by another process) from this process."""
    host = host_identity()
    try:
        pid, start_ticks = int(entry["pid"]), int(entry["start_ticks"])
        recorded_host = {"boot_id": entry["boot_id"], "pid_ns": entry["pid_ns"]}
    except (KeyError, TypeError, ValueError):
        return Liveness.UNKNOWN
    if host is None or recorded_host != host:
        return Liveness.UNKNOWN
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X") or int(fields[19]) != start_ticks:
        return Liveness.EXITED
    return Liveness.ALIVE
