"""Transcription providers behind one function, `transcribe(path)`.

Offline default: real voice-activity detection (webrtcvad over audio decoded by miniaudio) that
finds speech segments with times. When TRANSCRIPTION_URL and TRANSCRIPTION_API_KEY are set, an
OpenAI-compatible speech-to-text service (`POST {url}/audio/transcriptions`) gives text and words,
with TRANSCRIPTION_MODEL and the language (a business's own, else TRANSCRIPTION_LANGUAGE) it is told.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Protocol

import miniaudio
import requests
import webrtcvad

from prosaas.errors import BadInput, PermanentError
from prosaas.settings import get_settings

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

    def transcribe(self, path: Path, content_type: str) -> Transcript: ...


def decode_pcm16(path: Path) -> tuple[bytes, float]:
    """Decode mp3/wav/flac/ogg to 16 kHz mono 16-bit PCM; returns (pcm, duration_s)."""
    try:
        decoded = miniaudio.decode_file(str(path), output_format=miniaudio.SampleFormat.SIGNED16,
                                        nchannels=1, sample_rate=SAMPLE_RATE)
    except miniaudio.DecodeError as exc:
        raise BadAudio(f"cannot decode audio: {exc}") from exc
    pcm = decoded.samples.tobytes()
    return pcm, round(len(pcm) / 2 / SAMPLE_RATE, 3)


def audio_duration(path: Path) -> Optional[float]:
    try:
        return round(miniaudio.get_file_info(str(path)).duration, 3)
    except (miniaudio.DecodeError, OSError):
        return None


def speech_segments(pcm: bytes, *, aggressiveness: int = VAD_AGGRESSIVENESS) -> list[dict]:
    """Speech segments (seconds) found by webrtcvad in 30 ms frames, short pauses merged."""
    vad = webrtcvad.Vad(aggressiveness)
    spans: list[list[int]] = []  # [start_ms, end_ms]
    for index in range(len(pcm) // FRAME_BYTES):
        frame = pcm[index * FRAME_BYTES:(index + 1) * FRAME_BYTES]
        if not vad.is_speech(frame, SAMPLE_RATE):
            continue
        start = index * FRAME_MS
        if spans and start - spans[-1][1] <= MERGE_GAP_MS:
            spans[-1][1] = start + FRAME_MS
        else:
            spans.append([start, start + FRAME_MS])
    return [{"start": s / 1000, "end": e / 1000, "speaker": 0} for s, e in spans if e - s >= MIN_SEGMENT_MS]


class VadProvider:
    """Offline: where speech is, not what was said."""

    name = "webrtcvad"

    def transcribe(self, path: Path, content_type: str = "audio/mpeg") -> Transcript:
        pcm, duration = decode_pcm16(path)
        segments = speech_segments(pcm)
        return Transcript(provider=self.name, duration_s=duration, segments=segments, words=None, text=None,
                          speakers=1 if segments else 0)


class OpenAICompatibleProvider:
    """`POST {base_url}/audio/transcriptions` (multipart, Bearer key, response_format=verbose_json)."""

    name = "openai_compatible"

    def __init__(self, base_url: str, api_key: str, model: str = "whisper-1", language: Optional[str] = None):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.language = language  # None: the service detects it

    def transcribe(self, path: Path, content_type: str = "audio/mpeg") -> Transcript:
        data = {"model": self.model, "response_format": "verbose_json",
                "timestamp_granularities[]": ["segment", "word"]}
        if self.language:
            data["language"] = self.language
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


def provider_from_settings(language: Optional[str] = None) -> Provider:
    settings = get_settings()
    if settings.transcription_url and settings.transcription_api_key:
        return OpenAICompatibleProvider(settings.transcription_url, settings.transcription_api_key,
                                        model=settings.transcription_model,
                                        language=language or settings.transcription_language)
    return VadProvider()


def transcribe(path: Path, content_type: str = "audio/mpeg", language: Optional[str] = None) -> Transcript:
    """Transcribe with the configured provider, in `language` (a business's own) or TRANSCRIPTION_LANGUAGE."""
    return provider_from_settings(language).transcribe(path, content_type)
