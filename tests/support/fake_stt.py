"""A local OpenAI-compatible speech-to-text server: `POST /v1/audio/transcriptions` answering verbose_json."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler

from tests.support.fake_twilio import serve_in_thread

WORDS = [("shalom", 0.0, 0.4), ("this", 0.5, 0.7), ("is", 0.7, 0.8), ("a", 0.8, 0.9), ("test", 0.9, 1.3)]


@dataclass
class FakeSTT:
    api_key: str = "test-stt-key"
    fail_first: int = 0           # answer 500 to this many requests first
    requests: list[dict] = field(default_factory=list)
    port: int = 0

    def __post_init__(self):
        self.lock = threading.Lock()
        self.server, self.port = serve_in_thread(_handler(self))

    @property
    def url(self) -> str:
        """TRANSCRIPTION_URL for this server (the OpenAI base URL, with /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _multipart_fields(content_type: str, body: bytes) -> dict:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            fields[name] = {"filename": part.get_filename(), "bytes": len(payload),
                            "content_type": part.get_content_type(), "undecodable": b"NOT-AUDIO" in payload}
        else:
            fields.setdefault(name, []).append(payload.decode())
    return fields


def _handler(fake: FakeSTT):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v1/audio/transcriptions":
                return self._json(404, {"error": {"message": "not found"}})
            if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._json(401, {"error": {"message": "Incorrect API key provided"}})
            fields = _multipart_fields(self.headers.get("Content-Type", ""), body)
            with fake.lock:
                fake.requests.append(fields)
                attempt = len(fake.requests)
            if attempt <= fake.fail_first:
                return self._json(500, {"error": {"message": "temporary failure"}})
            if "file" not in fields or not fields["file"]["bytes"]:
                return self._json(400, {"error": {"message": "file is required"}})
            if fields["file"]["undecodable"]:
                return self._json(400, {"error": {"message": "Audio file might be corrupted or unsupported"}})
            self._json(200, {
                "task": "transcribe", "language": "english", "duration": 1.5,
                "text": "shalom this is a test",
                "segments": [{"id": 0, "start": 0.0, "end": 1.3, "text": " shalom this is a test"}],
                "words": [{"word": w, "start": s, "end": e} for w, s, e in WORDS],
            })

        def _json(self, status: int, payload: dict):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
