"""Request body size limit: refuse oversized bodies (413) before reading them."""
from __future__ import annotations

import falcon


class BodyLimitMiddleware:
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def process_request(self, req, resp):
        if req.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return
        length = req.content_length
        if length is None:
            if "chunked" in (req.get_header("Transfer-Encoding") or "").lower():
                raise falcon.HTTPLengthRequired(title="Length required",
                                                description="Send a Content-Length header.")
            return
        if length > self.max_bytes:
            raise falcon.HTTPContentTooLarge(
                title="Request body too large",
                description=f"The body is {length} bytes; the limit is {self.max_bytes} bytes.")
