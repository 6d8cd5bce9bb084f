"""Recording actors: download, transcription, cleanup (what they do: recordings_work; how they start:
recordings_service). Each call takes the worker's runtime (broker_runtime()) and hands the work its clients."""
from __future__ import annotations

from typing import Optional

import dramatiq
from periodiq import cron

from prosaas.clients import recording_files, transcription, twilio_api, twilio_recordings
from prosaas.runtime import broker_runtime

import actors.recordings_work as work


@dramatiq.actor(queue_name="recordings", job_type="recording_download",
                per_business=lambda: broker_runtime().settings.recordings_per_business,
                max_retries=6, min_backoff=1_000, max_backoff=30_000, time_limit=15 * 60 * 1000)
def download_recording(business_id: int, recording_sid: str, call_sid: Optional[str] = None) -> dict:
    """Download a recording (retrying Twilio's early 404 and 5xx), then queue its transcription.

    `call_sid` only names the call in the slot log lines (SLOT_ACQUIRED/SLOT_RELEASED call_sid=…).
    """
    from actors.recordings_service import queue_transcription  # the service starts this module's actors

    runtime = broker_runtime()
    downloader = twilio_recordings.from_settings(runtime.settings, recording_files.from_settings(runtime.settings))
    downloaded = work.perform_download(download_recording, runtime.database, business_id, recording_sid,
                                       downloader=downloader)
    queue_transcription(runtime.database, business_id, recording_sid)
    return {"recording_sid": recording_sid, "bytes": downloaded.size_bytes,
            "duration_ms": downloaded.duration_ms, "fetched": downloaded.fetched}


@dramatiq.actor(queue_name="low", job_type="recording_transcription", time_limit=30 * 60 * 1000)
def transcribe_recording(business_id: int, recording_sid: str) -> dict:
    runtime = broker_runtime()
    return work.perform_transcription(transcribe_recording, runtime.database, business_id, recording_sid,
                                      files=recording_files.from_settings(runtime.settings),
                                      provider=transcription.from_settings(runtime.settings))


@dramatiq.actor(queue_name="maintenance", periodic=cron("0 4 * * *"), time_limit=60 * 60 * 1000)
def cleanup_recordings() -> dict:
    """Daily: delete stored recording files past RECORDINGS_RETENTION_DAYS (and Twilio's copy first when
    RECORDINGS_DELETE_AT_TWILIO)."""
    runtime = broker_runtime()
    settings = runtime.settings
    return work.cleanup_expired_recordings(
        runtime.database, files=recording_files.from_settings(settings),
        retention_days=settings.recordings_retention_days,
        delete_at_twilio=twilio_api.from_settings(settings) if settings.recordings_delete_at_twilio else None)
