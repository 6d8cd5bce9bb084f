"""Transcription providers: webrtcvad over decoded audio (mp3, wav), and the OpenAI-compatible client."""
from __future__ import annotations

import io
import wave

import pytest

from prosaas.clients.transcription import (BadAudio, OpenAICompatibleProvider, TranscriptionRejected,
                                           TranscriptionUnavailable, VadProvider)
from tests.support.fake_twilio import make_mp3, speech_pcm


def make_wav(pattern: list[tuple[float, bool]], sample_rate: int = 8000) -> bytes:
    """A WAV of (seconds, is_speech) pieces."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(speech_pcm(pattern, sample_rate))
    return buffer.getvalue()


def test_vad_finds_the_speech_segments_of_a_wav(tmp_path):
    path = tmp_path / "session.wav"
    path.write_bytes(make_wav([(0.5, False), (1.0, True), (1.0, False), (0.6, True), (0.4, False)]))
    transcript = VadProvider().transcribe(path, "audio/wav")
    assert transcript.duration_s == pytest.approx(3.5, abs=0.05)
    assert len(transcript.segments) == 2, transcript.segments
    for segment, (start, end) in zip(transcript.segments, [(0.5, 1.5), (2.5, 3.1)]):
        assert abs(segment["start"] - start) <= 0.1 and end - 0.05 <= segment["end"] <= end + 0.3, segment
    assert transcript.speakers == 1 and transcript.words is None


def test_vad_on_silence_finds_nothing_and_garbage_is_bad_audio(tmp_path):
    silent = tmp_path / "silent.wav"
    silent.write_bytes(make_wav([(1.0, False)]))
    assert VadProvider().transcribe(silent).segments == []
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"\x00not audio at all" * 50)
    with pytest.raises(BadAudio):
        VadProvider().transcribe(garbage)


def test_openai_compatible_provider_against_the_fake(tmp_path, fake_stt):
    path = tmp_path / "call.mp3"
    path.write_bytes(make_mp3(1.0))
    transcript = OpenAICompatibleProvider(fake_stt.base_url, fake_stt.api_key).transcribe(path)
    assert transcript.text == "shalom this is a test" and len(transcript.words) == 5
    assert transcript.segments == [{"start": 0.0, "end": 1.3, "text": "shalom this is a test"}]
    with pytest.raises(TranscriptionRejected):
        OpenAICompatibleProvider(fake_stt.base_url, "wrong-key").transcribe(path)
    fake_stt.fail_first = len(fake_stt.requests) + 1
    with pytest.raises(TranscriptionUnavailable):
        OpenAICompatibleProvider(fake_stt.base_url, fake_stt.api_key).transcribe(path)
    with pytest.raises(TranscriptionUnavailable):
        OpenAICompatibleProvider("http://127.0.0.1:9", fake_stt.api_key).transcribe(path)


def test_model_and_language_from_settings_and_a_business_override(runtime, make_business, fake_stt, monkeypatch):
    """TRANSCRIPTION_MODEL and TRANSCRIPTION_LANGUAGE reach the service; a business's own language wins."""
    from actors.recordings import transcribe_recording
    from actors.recordings_work import perform_transcription
    from db.businesses import set_transcription_language
    from prosaas.clients import transcription
    from prosaas.settings import get_settings, reset_settings_cache
    from tests.recordings.helpers import files
    from tests.recordings.test_cleanup import stored_recording
    from tests.support.processes import run_cli

    monkeypatch.setenv("TRANSCRIPTION_URL", fake_stt.base_url)
    monkeypatch.setenv("TRANSCRIPTION_API_KEY", fake_stt.api_key)
    monkeypatch.setenv("TRANSCRIPTION_MODEL", "gpt-4o-transcribe")
    monkeypatch.setenv("TRANSCRIPTION_LANGUAGE", "en")
    reset_settings_cache()
    try:
        hebrew, default = make_business(), make_business()
        changed = run_cli("business", "set-language", str(hebrew.id), "he")
        assert changed.returncode == 0, changed.stderr
        assert run_cli("business", "set-language", str(hebrew.id), "Hebrew!").returncode == 2
        for business, language in ((hebrew, "he"), (default, "en")):
            sid = stored_recording(runtime, business.id, 0)
            done = perform_transcription(transcribe_recording, runtime.database, business.id, sid, files=files(),
                                         provider=transcription.from_settings(get_settings()))
            assert done["provider"] == "openai_compatible"
            sent = fake_stt.requests[-1]
            assert sent["model"] == ["gpt-4o-transcribe"] and sent["language"] == [language]
        with runtime.database.session() as session:
            set_transcription_language(session, hebrew.id, None)  # back to TRANSCRIPTION_LANGUAGE
    finally:
        monkeypatch.undo()
        reset_settings_cache()
