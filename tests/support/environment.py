"""A private database and Redis namespace per test run, set in the environment before prosaas is imported.

With DATABASE_URL / REDIS_URL pointing at real servers (CI), each run gets its own PostgreSQL
database and Redis key namespace; without them, SQLite and an embedded valkey server in a temp dir.
"""
from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range so a `port 0` bind elsewhere will not take it."""
    while True:
        port = random.randint(20000, 32000)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class TestEnvironment:
    def __init__(self):
        self.run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"prosaas-test-{self.run_id}-"))
        self.base_database_url = os.environ.get("DATABASE_URL")
        self.database_name = None
        self.valkey = None

    # Database ----------------------------------------------------------------------
    def _admin_dsn(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.base_database_url.replace("postgresql+psycopg2", "postgresql"))
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def setup_database(self) -> str:
        if self.base_database_url and self.base_database_url.startswith(("postgres", "postgresql")):
            import psycopg2
            from sqlalchemy.engine import make_url

            self.database_name = f"prosaas_t_{self.run_id}"
            connection = psycopg2.connect(self._admin_dsn())
            connection.autocommit = True
            connection.cursor().execute(f'CREATE DATABASE "{self.database_name}"')
            connection.close()
            url = make_url(self.base_database_url).set(database=self.database_name)
            return url.render_as_string(hide_password=False)
        return f"sqlite:///{self.tmp / 'test.db'}"

    def drop_database(self) -> None:
        if not self.database_name:
            return
        import psycopg2

        connection = psycopg2.connect(self._admin_dsn())
        connection.autocommit = True
        cursor = connection.cursor()
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                       "AND pid <> pg_backend_pid()", (self.database_name,))
        cursor.execute(f'DROP DATABASE IF EXISTS "{self.database_name}"')
        connection.close()

    # Redis -------------------------------------------------------------------------
    def setup_redis(self) -> str:
        url = os.environ.get("REDIS_URL")
        if url:
            return url
        from prosaas.embedded_redis import server_command

        socket_path = self.tmp / "redis.sock"
        command = server_command(self.tmp, socket_path)
        self.valkey = subprocess.Popen(command, stdout=open(self.tmp / "valkey.log", "wb"), stderr=subprocess.STDOUT)
        url = f"unix://{socket_path}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(url).ping()
                return url
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("embedded valkey did not start")

    def cleanup_redis(self, url: str, namespace: str) -> None:
        try:
            client = redis.Redis.from_url(url)
            for pattern in (f"{namespace}:*",):
                keys = list(client.scan_iter(match=pattern, count=1000))
                for start in range(0, len(keys), 500):
                    client.delete(*keys[start:start + 500])
        except redis.RedisError:
            pass
        if self.valkey is not None:
            self.valkey.terminate()
            self.valkey.wait(10)

    # All ---------------------------------------------------------------------------
    def apply(self) -> dict[str, str]:
        twilio_port, other_twilio_port, webpush_port = free_port(), free_port(), free_port()
        env = {
            "DATABASE_URL": self.setup_database(),
            "REDIS_URL": self.setup_redis(),
            "PROSAAS_REDIS_NAMESPACE": f"prosaas-t-{self.run_id}",
            "PROSAAS_DATA_DIR": str(self.tmp / "data"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "metrics"),
            "ADMIN_TOKEN": "test-admin-token-" + secrets.token_hex(16),  # 32+ characters, or no role starts
            "WORKER_HEARTBEAT_SECONDS": "1",
            "WORKER_DEAD_AFTER_SECONDS": "8",
            "SLOT_LEASE_SECONDS": "10",
            "JOB_STALE_AFTER_SECONDS": "10",
            "WORKER_SHUTDOWN_GRACE_SECONDS": "20",
            "LOG_LEVEL": "INFO",
            # Recordings: callbacks are signed with this token; the fake Twilios listen on 127.0.0.1 at
            # ports fixed for the run, so that a worker started once allows exactly those origins.
            "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
            "TWILIO_AUTH_TOKEN": "test-twilio-auth-token",
            "TEST_FAKE_TWILIO_PORTS": f"{twilio_port},{other_twilio_port}",
            "TWILIO_RECORDING_HOSTS": f"http://127.0.0.1:{twilio_port},http://127.0.0.1:{other_twilio_port}",
            # Web Push: the fake push service's origin is the only allowed push endpoint host.
            "TEST_FAKE_WEBPUSH_PORT": str(webpush_port),
            "PUSH_ENDPOINT_HOSTS": f"http://127.0.0.1:{webpush_port}",
            "WHATSAPP_WEBHOOK_SECRET": "test-whatsapp-secret",
            # One test business drives far more than a tenant's fair share (chaos load, fuzzing): limits stay
            # on, wide. tests/security checks the defaults' behaviour with its own settings.
            "API_RATE_PER_KEY": "1000", "API_RATE_BURST": "5000", "DIAGNOSTICS_PER_BUSINESS": "50",
            # Tests share one database per run and empty the queues between tests, which leaves earlier tests'
            # rows owed a message: a later test's worker must not resend them into its own counts. The
            # reconciler's tests set their own short delay.
            "RECONCILE_AFTER_SECONDS": "3600",
        }
        os.environ.update(env)
        Path(env["PROSAAS_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        return env
