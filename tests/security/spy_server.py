"""A local HTTP server that answers what a test tells it and remembers every connection and request.

>>> with SpyServer() as spy:
...     spy.route("/r", 302, {"Location": "http://127.0.0.1:1/x"})
...     ...
...     assert spy.connections == 0 and spy.requests == []
"""
from __future__ import annotations

import threading
from typing import Optional

from tests.support.local_http import LocalHTTPServer, QuietHandler


class SpyServer(LocalHTTPServer):
    name = "spy-server"

    def __init__(self, port: int = 0):
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[dict] = []
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.streams: dict[str, int] = {}   # path -> bytes to stream with no Content-Length
        self.streamed = 0                   # bytes actually written by streams
        super().__init__(port=port)

    def route(self, path: str, status: int, headers: Optional[dict] = None, body: bytes = b"") -> str:
        self.routes[path] = (status, headers or {}, body)
        return self.url + path

    def stream(self, path: str, total_bytes: int) -> str:
        self.streams[path] = total_bytes
        return self.url + path

    def authorizations(self) -> list[Optional[str]]:
        with self.lock:
            return [r["headers"].get("Authorization") for r in self.requests]

    def _handler_class(self):
        spy = self

        class Handler(QuietHandler):
            def setup(self):
                with spy.lock:
                    spy.connections += 1
                super().setup()

            def _any(self):
                body = self.read_body()
                with spy.lock:
                    spy.requests.append({"method": self.command, "path": self.path, "body": body,
                                         "headers": {k: v for k, v in self.headers.items()}})
                if self.path in spy.streams:
                    return self._stream(spy.streams[self.path])
                status, headers, payload = spy.routes.get(self.path, (200, {}, b"ok"))
                try:
                    self.answer(status, payload, headers)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: expected here
                    self.close_connection = True

            def _stream(self, total: int):
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"\0" * 65536
                try:
                    for _ in range(0, total, len(chunk)):
                        self.wfile.write(chunk)
                        with spy.lock:
                            spy.streamed += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_GET = do_POST = _any

        return Handler
