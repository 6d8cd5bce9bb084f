"""A private Redis master, one replica and three sentinels (Debian's redis-server) on free 127.0.0.1 ports.

For failover tests: `kill_master()` SIGKILLs the master, `wait_promoted()` waits until the sentinels name
the replica. Everything lives in a temp dir removed by close(); only processes started here are killed.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import redis

from tests.support.processes import free_port, wait_for

MASTER_NAME = "prosaas-test"


def redis_server_binary() -> Optional[str]:
    return shutil.which("redis-server")


class SentinelGroup:
    """master + replica + 3 sentinels (quorum 2, down after 1 s)."""

    def __init__(self, *, sentinels: int = 3, down_after_ms: int = 1000):
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs Debian's redis-server)")
        self.binary = binary
        self.tmp = Path(tempfile.mkdtemp(prefix="prosaas-sentinel-"))
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.down_after_ms = down_after_ms
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def sentinels_setting(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def env(self, db: int = 0) -> dict:
        """Settings for a role: the host in REDIS_URL is ignored, only its database number is used."""
        return {"REDIS_SENTINELS": self.sentinels_setting, "REDIS_SENTINEL_MASTER": MASTER_NAME,
                "REDIS_URL": f"redis://sentinel-named-master/{db}"}

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen([self.binary, *args], stdout=log, stderr=subprocess.STDOUT,
                                                cwd=self.tmp)
        log.close()

    def _data_args(self, name: str, port: int) -> list[str]:
        directory = self.tmp / name
        directory.mkdir(exist_ok=True)
        return ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
                "--appendonly", "no", "--protected-mode", "no"]

    def start(self) -> "SentinelGroup":
        self._spawn("master", self._data_args("master", self.master_port))
        wait_for(lambda: self._ping(self.master_port), 20, interval=0.05, what="private redis master")
        self._spawn("replica", self._data_args("replica", self.replica_port)
                    + ["--replicaof", "127.0.0.1", str(self.master_port)])
        wait_for(lambda: self._replica_synced(), 30, interval=0.1, what="the replica to sync")
        for index, port in enumerate(self.sentinel_ports):
            config = self.tmp / f"sentinel-{index}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.tmp}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n")
            self._spawn(f"sentinel-{index}", [str(config), "--sentinel"])
        wait_for(lambda: all(self._sentinel_sees_replica(p) for p in self.sentinel_ports), 30, interval=0.2,
                 what="every sentinel to see the master and its replica")
        return self

    @staticmethod
    def _ping(port: int) -> bool:
        try:
            return bool(redis.Redis(port=port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def _replica_synced(self) -> bool:
        try:
            info = redis.Redis(port=self.replica_port, socket_connect_timeout=1).info("replication")
            return info.get("master_link_status") == "up"
        except redis.RedisError:
            return False

    def _sentinel_sees_replica(self, port: int) -> bool:
        try:
            client = redis.Redis(port=port, socket_connect_timeout=1, decode_responses=True)
            master = client.sentinel_master(MASTER_NAME)
            return master.get("num-slaves", 0) >= 1 and master.get("num-other-sentinels", 0) >= 2
        except (redis.RedisError, KeyError):
            return False

    def master_port_now(self) -> Optional[int]:
        """The master port the sentinels agree on (majority), or None."""
        named = self._named_ports()
        return max(set(named), key=named.count) if named else None

    def kill_master(self) -> float:
        """SIGKILL the master (no goodbye, no last write shipped); returns when it happened."""
        process = self.processes["master"]
        process.kill()
        process.wait(10)
        return time.monotonic()

    def wait_promoted(self, timeout: float = 60) -> tuple[float, float]:
        """Wait until a sentinel names the replica as master. Returns (the last moment every sentinel still
        named the old master, the first moment one named the new one): the switch happened in between."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            looked_at = time.monotonic()
            if self.replica_port in self._named_ports():
                return looked_at, time.monotonic()
            time.sleep(0.05)
        raise TimeoutError("the sentinels did not promote the replica")

    def _named_ports(self) -> list[int]:
        named = []
        for port in self.sentinel_ports:
            try:
                found = redis.Redis(port=port, socket_connect_timeout=1).sentinel_get_master_addr_by_name(
                    MASTER_NAME)
                if found:
                    named.append(int(found[1]))
            except redis.RedisError:
                continue
        return named

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.master_port_now())

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)
