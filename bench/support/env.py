"""A private benchmark environment on the machine's Redis and PostgreSQL: own namespace, own database.

Import this BEFORE anything from prosaas: it sets the environment the settings are read from.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class BenchEnv:
    """One benchmark run: a namespace on the shared Redis, a database of its own, a temp data dir."""

    def __init__(self, name: str, *, database: bool = True):
        self.run_id = f"{name}_{os.getpid()}_{secrets.token_hex(3)}"
        self.namespace = f"bench-{self.run_id}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"prosaas-bench-{name}-"))
        self.database_name = f"prosaas_b_{self.run_id}".lower() if database else None
        self.env = {
            "REDIS_URL": REDIS_URL,
            "PROSAAS_REDIS_NAMESPACE": self.namespace,
            "PROSAAS_DATA_DIR": str(self.tmp / "data"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "metrics"),
            "ADMIN_TOKEN": "bench-admin-token-0123456789abcdef0123",  # 32+ characters
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # The benches measure the machinery with one business at full speed: no tenant limits on pings.
            "API_RATE_PER_KEY": "0", "DIAGNOSTICS_PER_BUSINESS": "0",
        }
        (self.tmp / "data").mkdir(parents=True, exist_ok=True)
        if database:
            self.env["DATABASE_URL"] = self._create_database()
        else:
            self.env["DATABASE_URL"] = f"sqlite:///{self.tmp / 'bench.db'}"
        os.environ.update(self.env)
        atexit.register(self.cleanup)
        # A bench stopped by SIGTERM/SIGHUP (a closed terminal, a timeout) still runs its `finally` blocks and
        # this cleanup, so no worker it started is left running.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _exit_on_signal)
        from db.migrate import run_migrations

        run_migrations(self.env["DATABASE_URL"], lock_dir=self.tmp)

    def _admin(self):
        import psycopg2

        connection = psycopg2.connect(POSTGRES_URL)
        connection.autocommit = True
        return connection

    def _create_database(self) -> str:
        connection = self._admin()
        connection.cursor().execute(f'CREATE DATABASE "{self.database_name}"')
        connection.close()
        return POSTGRES_URL.rsplit("/", 1)[0] + "/" + self.database_name

    def own_processes(self) -> list[int]:
        """Processes started for this run (any depth), known by the run's namespace in their environment."""
        marker = f"PROSAAS_REDIS_NAMESPACE={self.namespace}".encode() + b"\0"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "environ").read_bytes() + b"\0":
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours to read
                continue
        return found

    def end_own_processes(self, grace_seconds: float = 10) -> None:
        """SIGTERM whatever this run started and is still alive, SIGKILL what outlives the grace period."""
        pids = self.own_processes()
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while pids and time.monotonic() < deadline:
            time.sleep(0.2)
            pids = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _is_zombie(pid)]
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if pids:
            print(f"bench: killed leftover processes {pids}", file=sys.stderr)

    def cleanup(self) -> None:
        import redis

        self.end_own_processes()

        try:
            client = redis.Redis.from_url(REDIS_URL)
            for pattern in (f"{self.namespace}*",):
                batch = []
                for key in client.scan_iter(match=pattern, count=2000):
                    batch.append(key)
                    if len(batch) >= 1000:
                        client.delete(*batch)
                        batch = []
                if batch:
                    client.delete(*batch)
        except Exception:
            pass
        if self.database_name:
            try:
                from prosaas.runtime import get_runtime

                get_runtime().database.dispose()
            except Exception:
                pass
            try:
                connection = self._admin()
                cursor = connection.cursor()
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                               "AND pid <> pg_backend_pid()", (self.database_name,))
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.database_name}"')
                connection.close()
            except Exception as exc:
                print(f"bench: could not drop {self.database_name}: {exc}", file=sys.stderr)
            self.database_name = None

    def make_business(self, name: str = "Bench business"):
        from db.businesses import create_business
        from prosaas.runtime import get_runtime

        with get_runtime().database.session() as session:
            business, key = create_business(session, name, "UTC")
            return business.id, key


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def result_line(claim: str, **figures) -> None:
    """The one line a bench script prints: `BENCH <claim> key=value ...` (also as JSON on stderr)."""
    parts = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"BENCH {claim} {parts}", flush=True)
    print(json.dumps({"claim": claim, **figures}), file=sys.stderr, flush=True)


def percentile(values, pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
