"""A local HTTP server that serves recordings like Twilio's `…/Recordings/RE….mp3`, and signs callbacks like Twilio.

It also answers the REST API's `DELETE …/Recordings/RE….json` (the twilio library's recording delete).
It checks basic auth, can answer 404 for a recording's first N requests (media not ready yet),
can serve slowly (chunks with pauses), and counts requests and concurrent downloads per business.
"""
from __future__ import annotations

import base64
import math
import os
import secrets
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.support.local_http import LocalHTTPServer, QuietHandler

JSON = {"Content-Type": "application/json"}


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


def fixed_port(index: int) -> int:
    """The run's fixed fake-Twilio ports (tests/support/environment.py): 0 = the usual one, 1 = a second."""
    return int(os.environ["TEST_FAKE_TWILIO_PORTS"].split(",")[index])


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


class FakeTwilio(LocalHTTPServer):
    """Twilio's recording media endpoint for one account; `add()` recordings, then point callbacks at them."""

    name = "fake-twilio"

    def __init__(self, account_sid: str, auth_token: str, port: Optional[int] = None):
        """`port`: by default the run's first fixed fake-Twilio port (TWILIO_RECORDING_HOSTS allows it)."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.recordings: dict[str, FakeRecording] = {}
        self.active: dict[int, int] = defaultdict(int)       # downloads in progress per business
        self.max_active: dict[int, int] = defaultdict(int)   # the most ever seen at once per business
        self.unauthorized = 0
        self.deleted: list[str] = []                         # recordings deleted through the REST API
        self.refuse_deletes = False                          # answer 500 to every DELETE
        self.lock = threading.Lock()
        super().__init__(port=fixed_port(0) if port is None else port)
        self.start()

    def _handler_class(self):
        return _handler(self)

    # Set-up -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return self.url

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
        self.stop()


def _handler(fake: FakeTwilio):
    expected_auth = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()

    class Handler(QuietHandler):
        def do_GET(self):
            sid = self.path.rsplit("/", 1)[-1].removesuffix(".mp3")
            recording = fake.recordings.get(sid)
            with fake.lock:
                if recording is not None:
                    recording.requests += 1
            if self.headers.get("Authorization") != expected_auth:
                with fake.lock:
                    fake.unauthorized += 1
                return self.answer(401, b'{"code": 20003, "message": "Authenticate"}', JSON)
            if recording is None or not self.path.endswith(".mp3"):
                return self.answer(404, b'{"code": 20404}', JSON)
            with fake.lock:
                if recording.requests <= recording.not_found_first:
                    return self.answer(404, b'{"code": 20404}', JSON)
                fake.active[recording.business_id] += 1
                fake.max_active[recording.business_id] = max(fake.max_active[recording.business_id],
                                                             fake.active[recording.business_id])
            finished = False

            def done():  # counted over once the last byte is on its way, so the client can never be faster
                nonlocal finished
                if not finished:
                    finished = True
                    with fake.lock:
                        fake.active[recording.business_id] -= 1
            try:
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(recording.body)))
                self.end_headers()
                for start in range(0, len(recording.body), recording.chunk_size):
                    chunk = recording.body[start:start + recording.chunk_size]
                    if start + recording.chunk_size >= len(recording.body):
                        done()
                    elif recording.chunk_delay and start:
                        time.sleep(recording.chunk_delay)
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    with fake.lock:
                        recording.bytes_sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                done()

        def do_DELETE(self):
            sid = self.path.rsplit("/", 1)[-1].removesuffix(".json")
            if self.headers.get("Authorization") != expected_auth:
                return self.answer(401, b'{"code": 20003, "message": "Authenticate", "status": 401}', JSON)
            if not self.path.startswith(f"/2010-04-01/Accounts/{fake.account_sid}/Recordings/") \
                    or sid not in fake.recordings or sid in fake.deleted:
                return self.answer(404, b'{"code": 20404, "message": "not found", "status": 404}', JSON)
            if fake.refuse_deletes:
                return self.answer(500, b'{"code": 20500, "message": "internal error", "status": 500}', JSON)
            with fake.lock:
                fake.deleted.append(sid)
            self.answer(204, b"", {})

    return Handler


def callback_path(business_id: int) -> str:
    """The business's callback path and query (with its token), as `prosaas business create` prints it."""
    from prosaas.clients.twilio_callbacks import callback_path as business_callback_path
    from prosaas.settings import get_settings

    return business_callback_path(get_settings(), business_id)


def post_callback(client, fake: FakeTwilio, business_id: int, form: dict[str, str], *, base_url: str =
                  "http://falconframework.org", signature: Optional[str] = "sign", headers: Optional[dict] = None,
                  path: Optional[str] = None):
    """POST a recording-status callback through a falcon TestClient, signed as Twilio signs."""
    path = path or callback_path(business_id)
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if signature == "sign":
        all_headers["X-Twilio-Signature"] = fake.sign(base_url + path, form)
    elif signature is not None:
        all_headers["X-Twilio-Signature"] = signature
    route, _, query = path.partition("?")
    return client.simulate_post(route, query_string=query, body=urlencode(form), headers=all_headers)
