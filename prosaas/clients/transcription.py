"""Transcription providers behind one method, `provider.transcribe(path)`; `from_settings` picks the provider.

Offline default: real voice-activity detection (webrtcvad over audio decoded by miniaudio) that
finds speech segments with times. When TRANSCRIPTION_URL and TRANSCRIPTION_API_KEY are set, an
OpenAI-compatible speech-to-text service (`POST {url}/audio/transcriptions`) gives text and words,
with TRANSCRIPTION_MODEL and the language (a business's own, else TRANSCRIPTION_LANGUAGE) it is told.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Protocol

import miniaudio
import requests
import webrtcvad

from prosaas.errors import BadInput, PermanentError

log = logging.getLogger("prosaas.clients.transcription")

SAMPLE_RATE = 16_000
FRAME_MS = 30
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 16-bit mono
VAD_AGGRESSIVENESS = 2
MERGE_GAP_MS = 300      # pauses shorter than this stay inside one segment
MIN_SEGMENT_MS = 90
STT_TIMEOUT = (5, 300)


class BadAudio(BadInput):
    """The file cannot be decoded as audio: retrying cannot help."""

    reason = "bad_audio"


class TranscriptionRejected(PermanentError):
    reason = "stt_rejected"


class TranscriptionUnavailable(Exception):
    """The speech-to-text service answered 429/5xx, timed out or was unreachable (retryable)."""


@dataclass
class Transcript:
    provider: str
    duration_s: float
    segments: list[dict] = field(default_factory=list)   # {"start", "end", "text"?, "speaker"?}
    words: Optional[list[dict]] = None                   # {"word", "start", "end"} when the provider gives them
    text: Optional[str] = None
    speakers: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


class Provider(Protocol):
    name: str

    def transcribe(self, path: Path, content_type: str, *, max_seconds: Optional[float] = None,
                   language: Optional[str] = None) -> Transcript:
        """Audio longer than `max_seconds` fails as BadAudio; `language` (a business's own) overrides the default."""


DECODE_CHUNK_FRAMES = SAMPLE_RATE  # one second of 16 kHz audio per read: what a worker holds at once


def declared_duration(path: Path) -> Optional[float]:
    """What the file's header says it lasts (seconds), read without decoding; None when it does not say."""
    try:
        seconds = miniaudio.get_file_info(str(path)).duration
    except (miniaudio.DecodeError, OSError):
        return None
    return round(seconds, 3) if seconds and seconds > 0 else None


def audio_duration(path: Path) -> Optional[float]:
    return declared_duration(path)


def refuse_declared_overlong(path: Path, max_seconds: Optional[float]) -> None:
    """BadAudio when the header says the audio lasts more than `max_seconds` (checked before decoding)."""
    declared = declared_duration(path) if max_seconds else None
    if declared is not None and declared > max_seconds:
        raise BadAudio(f"the audio header says it lasts {declared:.0f} s; the limit is {max_seconds:.0f} s")


def pcm16_chunks(path: Path, *, max_seconds: Optional[float] = None) -> Iterator[bytes]:
    """Decode mp3/wav/flac/ogg to 16 kHz mono 16-bit PCM, one second at a time.

    A header can lie about the length (a few bytes of FLAC can hold hours), so the decoded length is
    counted too: past `max_seconds` the audio fails as BadAudio, whatever the header said.
    """
    max_frames = int(max_seconds * SAMPLE_RATE) if max_seconds else None
    try:
        stream = miniaudio.stream_file(str(path), output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1,
                                       sample_rate=SAMPLE_RATE, frames_to_read=DECODE_CHUNK_FRAMES)
    except miniaudio.DecodeError as exc:
        raise BadAudio(f"cannot decode audio: {exc}") from exc
    frames = 0
    try:
        for samples in stream:
            frames += len(samples)
            if max_frames is not None and frames > max_frames:
                raise BadAudio(f"the audio lasts more than {max_seconds:.0f} s, the limit")
            yield samples.tobytes()
            # The decoder runs in C: give gevent's other greenlets (heartbeats, time limits) their turn.
            time.sleep(0)
    except miniaudio.DecodeError as exc:
        raise BadAudio(f"cannot decode audio: {exc}") from exc
    finally:
        stream.close()


class SpeechDetector:
    """webrtcvad over 30 ms frames fed in pieces; speech spans (short pauses merged) kept as they end."""

    def __init__(self, aggressiveness: int = VAD_AGGRESSIVENESS):
        self.vad = webrtcvad.Vad(aggressiveness)
        self.spans: list[list[int]] = []  # [start_ms, end_ms]
        self.frames = 0
        self._rest = b""

    def feed(self, pcm: bytes) -> None:
        data = self._rest + pcm
        whole = len(data) // FRAME_BYTES * FRAME_BYTES
        for offset in range(0, whole, FRAME_BYTES):
            if self.vad.is_speech(data[offset:offset + FRAME_BYTES], SAMPLE_RATE):
                self._speech_at(self.frames * FRAME_MS)
            self.frames += 1
        self._rest = data[whole:]

    def _speech_at(self, start: int) -> None:
        if self.spans and start - self.spans[-1][1] <= MERGE_GAP_MS:
            self.spans[-1][1] = start + FRAME_MS
        else:
            if self.spans and self.spans[-1][1] - self.spans[-1][0] < MIN_SEGMENT_MS:
                self.spans.pop()  # a blip: never a segment, so not worth keeping for the whole file
            self.spans.append([start, start + FRAME_MS])

    def segments(self) -> list[dict]:
        return [{"start": s / 1000, "end": e / 1000, "speaker": 0} for s, e in self.spans
                if e - s >= MIN_SEGMENT_MS]


def speech_segments(pcm: bytes, *, aggressiveness: int = VAD_AGGRESSIVENESS) -> list[dict]:
    """Speech segments (seconds) found by webrtcvad in 30 ms frames, short pauses merged."""
    detector = SpeechDetector(aggressiveness)
    detector.feed(pcm)
    return detector.segments()


class VadProvider:
    """Offline: where speech is, not what was said. Decodes and detects one second at a time."""

    name = "webrtcvad"

    def transcribe(self, path: Path, content_type: str = "audio/mpeg", *,
                   max_seconds: Optional[float] = None, language: Optional[str] = None) -> Transcript:
        refuse_declared_overlong(path, max_seconds)
        detector = SpeechDetector()
        samples = 0
        for pcm in pcm16_chunks(path, max_seconds=max_seconds):
            samples += len(pcm) // 2
            detector.feed(pcm)
        segments = detector.segments()
        return Transcript(provider=self.name, duration_s=round(samples / SAMPLE_RATE, 3), segments=segments,
                          words=None, text=None, speakers=1 if segments else 0)


class OpenAICompatibleProvider:
    """`POST {base_url}/audio/transcriptions` (multipart, Bearer key, response_format=verbose_json)."""

    name = "openai_compatible"

    def __init__(self, base_url: str, api_key: str, model: str = "whisper-1", language: Optional[str] = None):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.language = language  # None: the service detects it

    def transcribe(self, path: Path, content_type: str = "audio/mpeg", *,
                   max_seconds: Optional[float] = None, language: Optional[str] = None) -> Transcript:
        refuse_declared_overlong(path, max_seconds)
        data = {"model": self.model, "response_format": "verbose_json",
                "timestamp_granularities[]": ["segment", "word"]}
        if language or self.language:
            data["language"] = language or self.language
        try:
            with open(path, "rb") as handle:
                response = requests.post(f"{self.base_url}/audio/transcriptions", data=data,
                                         files={"file": (path.name, handle, content_type)},
                                         headers={"Authorization": f"Bearer {self.api_key}"}, timeout=STT_TIMEOUT)
        except requests.RequestException as exc:
            raise TranscriptionUnavailable(f"speech-to-text unreachable: {type(exc).__name__}") from exc
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise TranscriptionUnavailable(f"speech-to-text answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise TranscriptionRejected(f"speech-to-text refused the audio: HTTP {response.status_code} "
                                        f"{response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise TranscriptionUnavailable("speech-to-text answered with something that is not JSON") from exc
        return self._parse(body, path)

    def _parse(self, body: dict, path: Path) -> Transcript:
        segments = [{"start": float(s.get("start", 0)), "end": float(s.get("end", 0)),
                     "text": (s.get("text") or "").strip(), **({"speaker": s["speaker"]} if "speaker" in s else {})}
                    for s in body.get("segments") or []]
        words = [{"word": w.get("word", ""), "start": float(w.get("start", 0)), "end": float(w.get("end", 0))}
                 for w in body.get("words") or []]
        speakers = len({s["speaker"] for s in segments if "speaker" in s}) or 1
        duration = body.get("duration")
        duration = float(duration) if duration is not None else (audio_duration(path) or 0.0)
        return Transcript(provider=self.name, duration_s=duration, segments=segments, words=words,
                          text=body.get("text"), speakers=speakers)


def from_settings(settings) -> Provider:
    """The speech-to-text service of TRANSCRIPTION_URL / TRANSCRIPTION_API_KEY (TRANSCRIPTION_MODEL, by default
    in TRANSCRIPTION_LANGUAGE), else the offline VadProvider."""
    if settings.transcription_url and settings.transcription_api_key:
        return OpenAICompatibleProvider(settings.transcription_url, settings.transcription_api_key,
                                        model=settings.transcription_model, language=settings.transcription_language)
    return VadProvider()
