"""A fake Web Push service: a real HTTP server on 127.0.0.1 that holds each subscription's private keys,
checks the VAPID JWT signature and DECRYPTS the RFC 8291 aes128gcm body, proving a real Web Push arrived.

>>> with FakeWebPush() as push:
...     sub = push.new_subscription()        # {"endpoint": "http://127.0.0.1:PORT/push/<token>", "keys": {...}}
...     push.answer(sub["endpoint"], 410)    # this subscription is gone
"""
from __future__ import annotations

import base64
import json
import os
import threading
from typing import Optional
from urllib.parse import urlparse

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.local_http import LocalHTTPServer, QuietHandler


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_vapid(header: Optional[str], expected_aud: str) -> tuple[bool, dict]:
    """Check `Authorization: vapid t=<jwt>, k=<public key>`: ES256 signature and audience."""
    if not header or not header.lower().startswith("vapid "):
        return False, {}
    params = dict(part.strip().split("=", 1) for part in header[6:].split(",") if "=" in part)
    try:
        token, key = params["t"], params["k"]
        signing_input, signature = token.rsplit(".", 1)
        claims = json.loads(b64url_decode(signing_input.split(".")[1]))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        raw = b64url_decode(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except (KeyError, ValueError, InvalidSignature):
        return False, {}
    return claims.get("aud") == expected_aud, {**claims, "k": key}


class FakeWebPush(LocalHTTPServer):
    name = "fake-webpush"

    def __init__(self, host: str = "127.0.0.1", port: Optional[int] = None):
        """`port`: by default the run's fixed fake push port, the origin PUSH_ENDPOINT_HOSTS allows."""
        if port is None:
            port = int(os.environ["TEST_FAKE_WEBPUSH_PORT"])
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}  # path -> (private key, auth)
        self._answers: dict[str, list[int]] = {}   # path -> statuses to answer next (last one sticks if sticky)
        self._sticky: dict[str, int] = {}
        self.received: list[dict] = []   # decrypted deliveries that were answered 201
        self.attempts: list[dict] = []   # every POST
        super().__init__(host, port)

    def new_subscription(self) -> dict:
        """A browser-like PushSubscription JSON whose keys this server holds."""
        private = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        path = f"/push/{b64url(os.urandom(12))}"
        with self._lock:
            self._keys[path] = (private, auth)
        public = private.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"{self.url}{path}", "keys": {"p256dh": b64url(public), "auth": b64url(auth)}}

    def answer(self, endpoint: str, status: int, times: Optional[int] = None) -> None:
        """Answer `status` to this endpoint `times` times (None: from now on)."""
        path = urlparse(endpoint).path
        with self._lock:
            if times is None:
                self._sticky[path] = status
            else:
                self._answers.setdefault(path, []).extend([status] * times)

    def received_by(self, endpoint: str) -> list[dict]:
        path = urlparse(endpoint).path
        with self._lock:
            return [r for r in self.received if r["path"] == path]

    def _handle(self, path: str, headers, body: bytes) -> int:
        with self._lock:
            keys = self._keys.get(path)
            queued = self._answers.get(path)
            status = queued.pop(0) if queued else self._sticky.get(path, 201)
        record = {"path": path, "ttl": headers.get("TTL"), "topic": headers.get("Topic"),
                  "urgency": headers.get("Urgency"), "encoding": headers.get("Content-Encoding"), "status": status}
        if keys is None:
            status = record["status"] = 404
        else:
            vapid_ok, claims = verify_vapid(headers.get("Authorization"), self.url)
            record.update(vapid_ok=vapid_ok, claims=claims)
            if not vapid_ok:
                status = record["status"] = 401
            elif status < 300:
                private, auth = keys
                try:
                    plain = http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")
                    record["payload"] = json.loads(plain)
                except Exception as exc:  # not a valid RFC 8291 message
                    status = record["status"] = 400
                    record["error"] = repr(exc)
        with self._lock:
            self.attempts.append(record)
            if status < 300:
                self.received.append(record)
        return status

    def _handler_class(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                status = fake._handle(urlparse(self.path).path, self.headers, self.read_body())
                location = {"Location": f"{fake.url}/message/{b64url(os.urandom(8))}"} if status == 201 else {}
                self.answer(status, b"", location)

        return Handler
