"""A local OpenAI-compatible speech-to-text server: `POST /v1/audio/transcriptions` answering verbose_json."""
from __future__ import annotations

import json
import re
import threading
from email.parser import BytesParser
from email.policy import HTTP

from tests.support.local_http import LocalHTTPServer, QuietHandler

MODELS = {"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"}  # what the real service accepts
WORDS = [("shalom", 0.0, 0.4), ("this", 0.5, 0.7), ("is", 0.7, 0.8), ("a", 0.8, 0.9), ("test", 0.9, 1.3)]


class FakeSTT(LocalHTTPServer):
    name = "fake-stt"

    def __init__(self, api_key: str = "test-stt-key"):
        self.api_key = api_key
        self.fail_first = 0           # answer 500 until this many requests were seen
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        super().__init__()
        self.start()

    def _handler_class(self):
        return _handler(self)

    @property
    def base_url(self) -> str:
        """TRANSCRIPTION_URL for this server (the OpenAI base URL, with /v1)."""
        return f"{self.url}/v1"

    def close(self) -> None:
        self.stop()


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
    class Handler(QuietHandler):
        def do_POST(self):
            body = self.read_body()
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
            if fields.get("model", [""])[0] not in MODELS:
                return self._json(400, {"error": {"message": f"model {fields.get('model')} does not exist"}})
            if "language" in fields and not re.fullmatch(r"[a-z]{2}", fields["language"][0]):
                return self._json(400, {"error": {"message": "language must be an ISO-639-1 code"}})
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
            self.answer(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    return Handler
