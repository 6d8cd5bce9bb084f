"""Request bodies: how big (413 before reading) and how slow (408 and close) a body may be.

`MAX_BODY_BYTES` bounds every body; a resource may declare a smaller `max_body_bytes` (the signed webhooks do,
so no more than their own limit is ever read before the signature is checked). A body must arrive within
`BODY_READ_TIMEOUT_SECONDS` of the request's start, counted across all its reads: one byte a second no longer
holds a connection. The deadline is a gevent timeout, so it applies under the web role's gevent workers
(where a read can be interrupted); the answer is 408 and the connection is closed (see `close_when_asked`).
"""
from __future__ import annotations

import logging
import time

import falcon

from prosaas.logs import log_event

log = logging.getLogger("prosaas.web")
CLOSE_CONNECTION = "prosaas.close_connection"  # environ flag: the server must close after this response


class BodyReadTimeout(Exception):
    """The client did not send its declared body in time."""


def _cooperative() -> bool:
    """True when socket reads yield to gevent (monkey-patched), so a gevent timeout can stop one."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("socket")


class DeadlineStream:
    """A wsgi.input whose reads all end by `deadline` (time.monotonic()), else raise BodyReadTimeout."""

    def __init__(self, stream, deadline: float):
        self.stream = stream
        self.deadline = deadline

    def _within(self, read, *args):
        import gevent

        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BodyReadTimeout()
        with gevent.Timeout(remaining, BodyReadTimeout):
            return read(*args)

    def read(self, size=-1):
        return self._within(self.stream.read, size)

    def readline(self, size=-1):
        return self._within(self.stream.readline, size)

    def readlines(self, hint=-1):
        return self._within(self.stream.readlines, hint)

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class BodyLimitMiddleware:
    """413 for a declared body over the limit (the app's, or the resource's own); 411 for a chunked one."""

    def __init__(self, max_bytes: int, read_timeout_seconds: float = 10.0):
        self.max_bytes = max_bytes
        self.read_timeout_seconds = read_timeout_seconds
        self.cooperative = _cooperative()

    def process_request(self, req, resp):
        if req.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return
        length = req.content_length
        if length is None:
            if "chunked" in (req.get_header("Transfer-Encoding") or "").lower():
                raise falcon.HTTPLengthRequired(title="Length required",
                                                description="Send a Content-Length header.")
            return
        self._check(length, self.max_bytes)
        if length and self.cooperative:
            # Falcon reads req.stream, and wraps env["wsgi.input"] for req.bounded_stream: both get the deadline.
            req.stream = req.env["wsgi.input"] = DeadlineStream(req.env["wsgi.input"],
                                                                time.monotonic() + self.read_timeout_seconds)

    def process_resource(self, req, resp, resource, params):
        own_limit = getattr(resource, "max_body_bytes", None)
        if own_limit is not None and req.content_length is not None:
            self._check(req.content_length, own_limit)

    @staticmethod
    def _check(length: int, limit: int) -> None:
        if length > limit:
            raise falcon.HTTPContentTooLarge(
                title="Request body too large",
                description=f"The body is {length} bytes; the limit is {limit} bytes.")


def body_read_timed_out(req, resp, ex, params):
    """Error handler for BodyReadTimeout: 408, and the connection is closed after it."""
    req.env[CLOSE_CONNECTION] = True
    log_event(log, logging.WARNING, "HTTP_BODY_TIMEOUT", method=req.method, path=req.path,
              remote=req.remote_addr, declared_bytes=req.content_length)
    raise falcon.HTTPError(falcon.HTTP_408, title="Request timeout",
                           description="The request body did not arrive in time; the connection is closed.")


def close_when_asked(app):
    """WSGI wrapper: after a response flagged CLOSE_CONNECTION, gunicorn closes the connection.

    Gunicorn drops an application's Connection header (hop-by-hop); its own Response (the owner of
    start_response) decides, through force_close().
    """
    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            if environ.get(CLOSE_CONNECTION):
                force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
                if force_close is not None:
                    force_close()
            return start_response(status, headers, exc_info)
        return app(environ, start)
    return wrapped
