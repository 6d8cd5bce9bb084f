"""A local HTTP server that serves recordings like Twilio's `…/Recordings/RE….mp3`, and signs callbacks like Twilio.

It checks basic auth, can answer 404 for a recording's first N requests (media not ready yet),
can serve slowly (chunks with pauses), and counts requests and concurrent downloads per business.
"""
from __future__ import annotations

import base64
import math
import secrets
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.support.processes import free_port


def voice_like(seconds: float, sample_rate: int = 16_000, pitch: float = 130.0) -> list[int]:
    """Samples that a voice-activity detector takes for speech: a gliding pitch with harmonics, syllable-paced."""
    samples, phase = [], 0.0
    for i in range(int(seconds * sample_rate)):
        t = i / sample_rate
        phase += 2 * math.pi * (pitch + 20 * math.sin(2 * math.pi * 3 * t)) / sample_rate
        envelope = 0.55 + 0.45 * math.sin(2 * math.pi * 4 * t)
        value = sum(math.sin(k * phase) / k * (1.6 if 4 <= k <= 6 else 1.0) for k in range(1, 16))
        samples.append(max(-32768, min(32767, int(1700 * envelope * value))))
    return samples


def speech_pcm(pattern: list[tuple[float, bool]], sample_rate: int = 16_000, pitch: float = 130.0) -> bytes:
    """16-bit mono PCM of (seconds, is_speech) pieces; the rest is silence."""
    samples: list[int] = []
    for seconds, speech in pattern:
        samples += voice_like(seconds, sample_rate, pitch) if speech else [0] * int(seconds * sample_rate)
    return struct.pack(f"<{len(samples)}h", *samples)


def make_mp3(seconds: float = 1.0, pitch: float = 130.0, sample_rate: int = 16_000, silence_every: float = 0,
             bitrate: int = 32) -> bytes:
    """A real mp3 (LAME via lameenc) of voice-like sound, alternating with silence every `silence_every` s."""
    import lameenc

    if silence_every:
        pieces = int(math.ceil(seconds / silence_every))
        pattern = [(silence_every, index % 2 == 0) for index in range(pieces)]
    else:
        pattern = [(seconds, True)]
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(speech_pcm(pattern, sample_rate, pitch)) + encoder.flush())


def serve_in_thread(handler) -> tuple[ThreadingHTTPServer, int]:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving in a daemon thread."""
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class FakeRecording:
    body: bytes
    business_id: int
    not_found_first: int = 0      # answer 404 to this many requests first
    chunk_delay: float = 0.0      # pause between chunks (slow responses)
    chunk_size: int = 4096
    requests: int = 0
    bytes_sent: int = 0


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    recordings: dict[str, FakeRecording] = field(default_factory=dict)
    active: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    max_active: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    unauthorized: int = 0
    port: int = 0

    def __post_init__(self):
        self.lock = threading.Lock()
        self.server, self.port = serve_in_thread(_handler(self))

    # Set-up -------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def recording_url(self, recording_sid: str, host: Optional[str] = None) -> str:
        """RecordingUrl as Twilio sends it (without .mp3)."""
        base = self.base if host is None else f"http://{host}:{self.port}"
        return f"{base}/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}"

    def add(self, business_id: int, body: Optional[bytes] = None, **options) -> str:
        sid = new_sid("RE")
        self.recordings[sid] = FakeRecording(body=body if body is not None else make_mp3(), business_id=business_id,
                                             **options)
        return sid

    def callback_form(self, recording_sid: str, call_sid: Optional[str] = None, status: str = "completed",
                      host: Optional[str] = None) -> dict[str, str]:
        return {"AccountSid": self.account_sid, "CallSid": call_sid or new_sid("CA"), "RecordingSid": recording_sid,
                "RecordingUrl": self.recording_url(recording_sid, host), "RecordingStatus": status,
                "RecordingDuration": "1", "RecordingChannels": "1", "RecordingSource": "DialVerb",
                "RecordingStartTime": "Mon, 23 Nov 2026 20:00:00 +0000", "ErrorCode": "0"}

    def sign(self, url: str, form: dict[str, str], token: Optional[str] = None) -> str:
        return RequestValidator(token or self.auth_token).compute_signature(url, form)

    def requests_for(self, recording_sid: str) -> int:
        return self.recordings[recording_sid].requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(fake: FakeTwilio):
    expected_auth = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            sid = self.path.rsplit("/", 1)[-1].removesuffix(".mp3")
            recording = fake.recordings.get(sid)
            with fake.lock:
                if recording is not None:
                    recording.requests += 1
            if self.headers.get("Authorization") != expected_auth:
                with fake.lock:
                    fake.unauthorized += 1
                return self._answer(401, b'{"code": 20003, "message": "Authenticate"}')
            if recording is None or not self.path.endswith(".mp3"):
                return self._answer(404, b'{"code": 20404}')
            with fake.lock:
                if recording.requests <= recording.not_found_first:
                    return self._answer(404, b'{"code": 20404}')
                fake.active[recording.business_id] += 1
                fake.max_active[recording.business_id] = max(fake.max_active[recording.business_id],
                                                             fake.active[recording.business_id])
            try:
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(recording.body)))
                self.end_headers()
                for start in range(0, len(recording.body), recording.chunk_size):
                    chunk = recording.body[start:start + recording.chunk_size]
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    with fake.lock:
                        recording.bytes_sent += len(chunk)
                    if recording.chunk_delay:
                        time.sleep(recording.chunk_delay)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                with fake.lock:
                    fake.active[recording.business_id] -= 1

        def _answer(self, status: int, body: bytes):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def post_callback(client, fake: FakeTwilio, business_id: int, form: dict[str, str], *, base_url: str =
                  "http://falconframework.org", signature: Optional[str] = "sign", headers: Optional[dict] = None):
    """POST a recording-status callback through a falcon TestClient, signed as Twilio signs."""
    path = f"/twilio/recording-status?business_id={business_id}"
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if signature == "sign":
        all_headers["X-Twilio-Signature"] = fake.sign(base_url + path, form)
    elif signature is not None:
        all_headers["X-Twilio-Signature"] = signature
    return client.simulate_post("/twilio/recording-status", query_string=f"business_id={business_id}",
                                body=urlencode(form), headers=all_headers)
