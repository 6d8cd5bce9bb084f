"""A private PostgreSQL and a private valkey that a test or benchmark starts, stops and restarts itself.

Restart scenarios must never touch the machine's shared servers; these bind 127.0.0.1 on a free port
and live in a temp dir that is removed on close().
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import redis

from tests.support.processes import free_port, wait_for


def postgres_bin_dir() -> Optional[Path]:
    """The newest /usr/lib/postgresql/*/bin with initdb, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


class PrivatePostgres:
    """initdb + pg_ctl in a temp dir, trust auth on 127.0.0.1:<free port>. Runs as `postgres` when we are root."""

    def __init__(self, settings: Optional[dict[str, str]] = None):
        """settings: extra server settings (`-c name=value`), e.g. {"wal_writer_delay": "10s"}."""
        self.settings = dict(settings or {})
        self.bin = postgres_bin_dir()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="prosaas-pg-"))
        self.data = self.tmp / "data"
        self.log_path = self.tmp / "postgres.log"
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.tmp, entry.pw_uid, entry.pw_gid)
        self.tmp.chmod(0o755)

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = list(args)
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout, cwd=self.tmp)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> "PrivatePostgres":
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c max_connections=200 -c full_page_writes=off"
                   + "".join(f" -c {name}={value}" for name, value in self.settings.items()))
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-o", options,
                  "-w", "-t", "60", "start")
        wait_for(self.is_up, 30, what=f"private postgres on {self.port}")
        return self

    def stop(self, mode: str = "fast") -> None:
        """mode: smart | fast | immediate (immediate = like a crash: connections cut, no checkpoint)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, down_seconds: float = 0, mode: str = "fast") -> None:
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def is_up(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(self.url, connect_timeout=2).close()
            return True
        except psycopg2.Error:
            return False

    def create_database(self, name: str) -> str:
        import psycopg2

        connection = psycopg2.connect(self.url)
        connection.autocommit = True
        connection.cursor().execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return self.url_for(name)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class PrivateValkey:
    """The embedded valkey binary with appendonly on a free TCP port; restart keeps its append-only file."""

    def __init__(self):
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="prosaas-valkey-"))
        self.socket = self.tmp / "valkey.sock"
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateValkey":
        from prosaas.embedded_redis import server_command

        command = server_command(self.tmp, self.socket, port=self.port)
        log = open(self.tmp / "valkey.log", "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self.is_up, 30, interval=0.05, what=f"private valkey on {self.port}")
        return self

    def is_up(self) -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (valkey flushes its append-only file) or SIGKILL (a crash: the last second may be lost)."""
        if self.process and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(30)

    def restart(self, down_seconds: float = 0, kill: bool = False) -> None:
        self.stop(kill)
        time.sleep(down_seconds)
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def close(self) -> None:
        self.stop(kill=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
