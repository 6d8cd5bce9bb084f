"""A real S3-compatible server for the batch tests (moto in server mode on 127.0.0.1) and a TCP proxy in
front of it that can add latency or drop every connection for a while, like a storage outage."""
from __future__ import annotations

import socket
import threading
import time

import boto3

from tests.support.processes import free_port, wait_for

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


class MotoS3:
    """moto's S3 API as a real HTTP server; `.url`, `.client` (boto3), `.keys(prefix)`."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoS3":
        self.server.start()
        self.client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        return self

    def stop(self) -> None:
        self.server.stop()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return found

    def put_many(self, bucket: str, objects: dict[str, bytes]) -> None:
        """Test fixtures straight into the server's store (HTTP puts in this process cost ~10 ms each)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for key, body in objects.items():
            backend.put_object(bucket, key, body)


class FaultyProxy:
    """Forwards TCP to a target port; `latency` delays each request chunk, `down()` drops every
    connection (live and new) until `up()`: the storage server "failing for a while"."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.latency = 0.0
        self.is_down = False
        self.dropped = 0
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept_loop, daemon=True, name="faulty-proxy").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def down(self) -> None:
        with self._lock:
            self.is_down = True
            live, self._live = list(self._live), set()
        for sock in live:
            self._close(sock)

    def up(self) -> None:
        self.is_down = False

    def stop(self) -> None:
        self._stopped = True
        self.down()
        self._listener.close()

    @staticmethod
    def _close(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.is_down:
                self.dropped += 1
                self._close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._close(client)
                continue
            with self._lock:
                self._live.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, is_request: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if is_request and self.latency:
                    time.sleep(self.latency)
                if self.is_down:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._live.discard(source)
                self._live.discard(target)
            self._close(source)
            self._close(target)


def wait_until_listening(port: int) -> None:
    wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, 10,
             what=f"port {port}")
