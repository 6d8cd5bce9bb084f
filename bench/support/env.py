"""A private benchmark environment on the machine's Redis and PostgreSQL: own namespace, own database.

Import this BEFORE anything from prosaas: it sets the environment the settings are read from.
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
import sys
import tempfile
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
            "ADMIN_TOKEN": "bench-admin-token",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        (self.tmp / "data").mkdir(parents=True, exist_ok=True)
        if database:
            self.env["DATABASE_URL"] = self._create_database()
        else:
            self.env["DATABASE_URL"] = f"sqlite:///{self.tmp / 'bench.db'}"
        os.environ.update(self.env)
        atexit.register(self.cleanup)
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

    def cleanup(self) -> None:
        import redis

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
