"""Audio sessions (the original ML worker): process an uploaded recording into duration, segments, speakers, words.

Three retries at exactly 5/10/20 s (no jitter); after the last one the session is `failed` with the error.
What the actor does: sessions_work; how a session starts and is shown: sessions_service.
"""
from __future__ import annotations

import dramatiq

from prosaas.clients import recording_files, transcription
from prosaas.runtime import broker_runtime

import actors.sessions_work as work


@dramatiq.actor(queue_name="default", job_type="audio_session", max_retries=3, min_backoff=5_000,
                per_business=lambda: broker_runtime().settings.sessions_per_business, backoff_jitter=False,
                time_limit=30 * 60 * 1000)
def process_audio_session(business_id: int, session_id: str) -> dict:
    runtime = broker_runtime()
    settings = runtime.settings
    return work.process_session(process_audio_session, runtime.database, business_id, session_id,
                                files=recording_files.from_settings(settings),
                                provider=transcription.from_settings(settings),
                                max_seconds=settings.session_max_seconds)
