"""What a job costs, read from the servers and the kernel: Redis commands and memory, PostgreSQL statements
and WAL bytes, CPU seconds of whole process trees (/proc/<pid>/stat)."""
from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_cpu_seconds(*roots: int) -> float:
    """utime+stime of each root and every live descendant, plus what reaped children left in the roots'
    cutime+cstime (a PostgreSQL backend that disconnected, a worker process that was replaced)."""
    tree, ticks, seen = _children(), 0, set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        fields = _stat(pid)
        if not fields:
            continue
        # fields[11..14] = utime, stime, cutime, cstime (stat fields 14-17)
        ticks += int(fields[11]) + int(fields[12])
        if pid in roots:
            ticks += int(fields[13]) + int(fields[14])
        stack.extend(tree.get(pid, []))
    return ticks / TICKS


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def redis_counts(client) -> dict:
    """Commands executed so far (every command, those called from Lua scripts included) and memory in use."""
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    return {"calls": calls, "used_memory": int(client.info("memory")["used_memory"])}


def redis_command_delta(before: dict, after: dict) -> dict[str, int]:
    return {name: after["calls"][name] - before["calls"].get(name, 0) for name in after["calls"]
            if after["calls"][name] - before["calls"].get(name, 0) > 0}


def postgres_counts(admin_url: str, database: str, has_statements: bool) -> dict:
    """WAL position (the whole server's) and, with pg_stat_statements, statements run in `database`."""
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
    wal = int(cursor.fetchone()[0])
    statements = commits = None
    if has_statements:  # utility statements (BEGIN, COMMIT, SET) are counted too: track_utility is on
        cursor.execute("SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE query ILIKE 'commit%%'), 0)"
                       " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
                       (database,))
        statements, commits = map(int, cursor.fetchone())
    connection.close()
    return {"wal": wal, "statements": statements, "commits": commits}
