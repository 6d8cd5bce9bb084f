"""The multi-host cluster: PostgreSQL and Redis on host `db`, moto S3 on host `s3`, prosaas roles on their own
hosts (each with its own PROSAAS_DATA_DIR), all inside the namespaces of a `Network`.

Every process is started here in a session of its own and stopped here by its process group.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.multihost.netns import SUBNET, Network
from tests.support.environment import REPO_ROOT
from tests.support.private_servers import postgres_bin_dir
from tests.support.processes import wait_for

HOSTS = {"db": 2, "s3": 3, "web1": 11, "web2": 12, "wk1": 21, "wk2": 22, "sch1": 31, "sch2": 32, "ctl": 99}
BUCKET = "multihost"
WEB_PORT = 8000
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
# Settings every host shares; the test process's own (shared-server) settings are replaced, never inherited.
REPLACED = ("DATABASE_URL", "REDIS_URL", "PROSAAS_REDIS_NAMESPACE", "PROSAAS_DATA_DIR", "STORAGE_URL",
            "S3_ENDPOINT_URL", "RUN_MIGRATIONS", "PROSAAS_BIND", "SERVICE_ROLE", "WORKER_QUEUES",
            "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER")


class HostProcess:
    """One process on one host: `ip netns exec` + its own hostname, its own session (process group)."""

    def __init__(self, network: Network, host: str, argv: list[str], env: dict, log_path: Path):
        self.host, self.log_path = host, log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(network.command(host, argv), cwd=REPO_ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # whatever is left of the group
        self.process.wait(10)
        self._log.close()


class Cluster:
    def __init__(self, network: Network):
        self.network = network
        self.tmp = Path(tempfile.mkdtemp(prefix="prosaas-multihost-"))
        self.tmp.chmod(0o755)
        self.processes: list[HostProcess] = []
        self.pg_bin = postgres_bin_dir()
        self.pg_data = self.tmp / "pgdata"
        self.namespace = f"mh{os.getpid()}"

    # Servers ------------------------------------------------------------------------
    def start_servers(self) -> None:
        self._start_postgres()
        db = self.network.address("db")
        self.redis = self.spawn("db", [shutil.which("redis-server"), "--bind", db, "--port", "6379", "--save", "",
                                       "--appendonly", "no", "--protected-mode", "no"], name="redis", env=os.environ)
        self.moto = self.spawn("s3", [sys.executable, "-m", "moto.server", "-H", self.network.address("s3"),
                                      "-p", "5000"], name="moto", env=os.environ)
        wait_for(lambda: self.in_ctl(self._s3_up), 60, interval=0.5, what="moto S3 in its namespace")
        self.in_ctl(lambda: self.s3_client().create_bucket(Bucket=BUCKET))
        wait_for(lambda: self.in_ctl(self._redis_up), 30, interval=0.2, what="redis on host db")

    def _start_postgres(self) -> None:
        owner = pwd.getpwnam("postgres")
        self.pg_data.mkdir()
        os.chown(self.pg_data, owner.pw_uid, owner.pw_gid)
        self._as_postgres([str(self.pg_bin / "initdb"), "-D", str(self.pg_data), "-U", "postgres", "--auth=trust",
                           "--no-sync", "-E", "UTF8"])
        with open(self.pg_data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {SUBNET}.0/24 trust\n")
        # A worker cut off mid-transaction must not hold its row locks for hours (TCP keepalive): end it.
        options = (f"-p 5432 -k {self.pg_data} -c listen_addresses={self.network.address('db')} -c fsync=off "
                   "-c max_connections=300 -c idle_in_transaction_session_timeout=5s")
        subprocess.run(self.network.command("db", ["runuser", "-u", "postgres", "--", str(self.pg_bin / "pg_ctl"),
                                                   "-D", str(self.pg_data), "-l", str(self.pg_data / "postgres.log"),
                                                   "-o", options, "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, timeout=120, cwd=self.tmp)
        self.database_url = f"postgresql://postgres@{self.network.address('db')}:5432/prosaas"
        self.in_ctl(self._create_database)

    def _as_postgres(self, argv: list[str]) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120,
                       cwd=self.tmp)

    def _create_database(self) -> None:
        import psycopg2

        connection = psycopg2.connect(f"postgresql://postgres@{self.network.address('db')}:5432/postgres")
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE prosaas")
        connection.close()

    def _s3_up(self) -> bool:
        try:
            return requests.get(self.s3_url, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    def _redis_up(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=self.network.address("db"), socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    @property
    def s3_url(self) -> str:
        return f"http://{self.network.address('s3')}:5000"

    def s3_client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def db_connection(self):
        """A psycopg2 connection opened from host ctl (it stays in that namespace), autocommit."""
        import psycopg2

        connection = self.in_ctl(psycopg2.connect, self.database_url)
        connection.autocommit = True
        return connection

    def in_ctl(self, function, /, *args, **kwargs):
        return self.network.call_in("ctl", function, *args, **kwargs)

    # Roles ----------------------------------------------------------------------------
    def env(self, host: str, **extra: str) -> dict:
        base = {k: v for k, v in os.environ.items() if k not in REPLACED}
        data_dir = self.tmp / "hosts" / host
        data_dir.mkdir(parents=True, exist_ok=True)
        return {**base, **S3_CREDENTIALS, "DATABASE_URL": self.database_url,
                "REDIS_URL": f"redis://{self.network.address('db')}:6379/0",
                "PROSAAS_REDIS_NAMESPACE": self.namespace, "PROSAAS_DATA_DIR": str(data_dir),
                "STORAGE_URL": f"s3://{BUCKET}", "S3_ENDPOINT_URL": self.s3_url,
                "PROSAAS_BIND": f"{self.network.address(host)}:{WEB_PORT}", "WEB_WORKERS": "1",
                "WORKER_PROCESSES": "1", "WORKER_GREENLETS": "10", "WORKER_HEARTBEAT_SECONDS": "1",
                "WORKER_DEAD_AFTER_SECONDS": "5", "JOB_STALE_AFTER_SECONDS": "5", "SCHEDULER_TICK_SECONDS": "2",
                **extra}

    def spawn(self, host: str, argv: list[str], *, name: str, env: dict) -> HostProcess:
        process = HostProcess(self.network, host, argv, dict(env), self.tmp / f"{name}.log")
        self.processes.append(process)
        return process

    def role(self, host: str, *args: str, **extra: str) -> HostProcess:
        return self.spawn(host, [sys.executable, "-m", "prosaas", *args], name=f"{host}-{args[0]}-{time.time_ns()}",
                          env=self.env(host, **extra))

    def web_url(self, host: str) -> str:
        return f"http://{self.network.address(host)}:{WEB_PORT}"

    def wait_ready(self, host: str, process: HostProcess, timeout: float = 90) -> None:
        def ready():
            assert process.alive(), f"{host} exited:\n{process.log()[-3000:]}"
            try:
                return self.in_ctl(requests.get, f"{self.web_url(host)}/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_for(ready, timeout, interval=0.5, what=f"web on {host}")

    def wait_worker(self, process: HostProcess, timeout: float = 90) -> None:
        wait_for(lambda: "WORKER_STARTED" in process.log() or not process.alive(), timeout, interval=0.3,
                 what=f"worker on {process.host}")
        assert process.alive(), f"worker on {process.host} exited:\n{process.log()[-3000:]}"

    def cli(self, host: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.network.command(host, [sys.executable, "-m", "prosaas", *args]), cwd=REPO_ROOT,
                              env=self.env(host), capture_output=True, text=True, timeout=timeout)

    def python(self, host: str, module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.network.command(host, [sys.executable, "-m", module, *args]), cwd=REPO_ROOT,
                              env=self.env(host), capture_output=True, text=True, timeout=timeout)

    # Teardown -------------------------------------------------------------------------
    def close(self) -> None:
        for process in reversed(self.processes):
            try:
                process.stop(timeout=5)
            except Exception:
                pass
        if self.pg_bin and (self.pg_data / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data),
                            "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.tmp, ignore_errors=True)


def report(scenario: str, **figures) -> None:
    print(f"\nMULTIHOST {scenario} " + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
