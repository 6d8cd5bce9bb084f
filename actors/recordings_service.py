"""Recordings, the service: accept Twilio's recording callbacks, queue transcriptions, answer playback requests.

A Twilio callback enqueues one download (deduplicated by RecordingSid); a user asking to play a
recording that is not local gets one priority download on `high`, re-enqueued a bounded number
of times when it is stuck, then a clear answer naming the queue nobody consumes.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Optional

from db import Database, job_store
from db import recordings_store as store
from db.base import utcnow
from db.models.core import BackgroundJob, JobStatus
from db.models.recordings import Recording, RecordingStatus
from prosaas.clients import recording_files
from prosaas.errors import BrokerUnavailable, error_class
from prosaas.jobs import enqueue_tracked_or_undo

from actors.recordings import download_recording, transcribe_recording

log = logging.getLogger("prosaas.recordings")

MAX_PRIORITY_REENQUEUES = 2  # after the first priority download: at most this many more when stuck


def accept_recording_callback(database: Database, business_id: int, *, call_sid: str, recording_sid: str,
                              recording_url: str, recording_status: str, duration_s: Optional[int],
                              channels: Optional[int]) -> str:
    """Record a Twilio recording-status callback; a new `completed` recording gets one download job.

    Returns "enqueued", "duplicate" or "recorded". Raises BrokerUnavailable (nothing kept: Twilio retries).
    """
    completed = recording_status == "completed"
    recording, created = None, False
    with database.session() as session:
        if recording_status in ("completed", "absent", "failed"):
            recording, created = store.record_recording(
                session, business_id=business_id, call_sid=call_sid, recording_sid=recording_sid,
                recording_url=recording_url, duration_s=duration_s, channels=channels,
                status=RecordingStatus.PENDING if completed else RecordingStatus.ABSENT)
        else:  # in-progress: only the call is worth remembering
            store.get_or_create_call(session, business_id, call_sid)
        recording_id = recording.id if recording is not None else None
    if not completed:
        log.info("RECORDING_CALLBACK_RECORDED business_id=%s call_sid=%s recording_sid=%s status=%s", business_id,
                 call_sid, recording_sid, recording_status)
        return "recorded"
    if not created:
        log.info("RECORDING_CALLBACK_DUPLICATE business_id=%s call_sid=%s recording_sid=%s", business_id,
                 call_sid, recording_sid)
        return "duplicate"

    def forget_recording():  # nothing kept: Twilio's retry of the callback must start the download
        with database.session() as session:
            store.delete_recording_row(session, recording_id)

    enqueued = enqueue_tracked_or_undo(download_recording, business_id=business_id,
                                       kwargs={"recording_sid": recording_sid, "call_sid": call_sid},
                                       undo=forget_recording)
    with database.session() as session:
        store.set_download_job(session, recording_sid, enqueued.job_id)
    log.info("RECORDING_CALLBACK_ACCEPTED business_id=%s call_sid=%s recording_sid=%s job_id=%s", business_id,
             call_sid, recording_sid, enqueued.job_id)
    return "enqueued"


def queue_transcription(database: Database, business_id: int, recording_sid: str) -> Optional[str]:
    """Queue the transcription of a downloaded recording once; None when already queued or done."""
    with database.session() as session:
        if not store.claim_transcription(session, recording_sid):
            return None

    def release_claim():  # the next attempt (or cleanup sweep) may claim the transcription again
        with database.session() as session:
            store.set_transcript_job(session, recording_sid, None)

    try:
        enqueued = enqueue_tracked_or_undo(transcribe_recording, business_id=business_id,
                                           kwargs={"recording_sid": recording_sid}, undo=release_claim)
    except BrokerUnavailable:
        log.warning("TRANSCRIPT_ENQUEUE_FAILED business_id=%s recording_sid=%s reason=broker_unavailable",
                    business_id, recording_sid)
        return None
    with database.session() as session:
        store.set_transcript_job(session, recording_sid, enqueued.job_id)
    return enqueued.job_id


class PlaybackState(StrEnum):
    READY = "ready"      # stored: serve the file
    PENDING = "pending"  # a download is on its way
    STUCK = "stuck"      # downloads made no progress, re-enqueueing gave up
    FAILED = "failed"    # the download failed for good
    ABSENT = "absent"    # Twilio said the call has no recording


@dataclass(frozen=True)
class Playback:
    """What to answer a user who wants to hear a call's recording."""

    state: PlaybackState
    recording: Recording
    file: Optional[recording_files.StoredFile] = None
    job: Optional[BackgroundJob] = None
    detail: str = ""


def _last_progress(job: BackgroundJob) -> dt.datetime:
    return max(t for t in (job.created_at, job.updated_at, job.heartbeat_at) if t is not None)


def _active(job: Optional[BackgroundJob]) -> bool:
    return job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING)


def request_playback(database: Database, business_id: int, call_sid: str, *, files: recording_files.RecordingFiles,
                     stuck_after_seconds: float, idle_queues: Callable[[], list[str]]) -> Optional[Playback]:
    """The stored file of the call's recording, or the priority download that will bring it. None: no such call.

    A download without progress for `stuck_after_seconds` (RECORDING_STUCK_AFTER_SECONDS) counts as stuck.
    `idle_queues` names the queues no live worker consumes (asked only when a download has given up).
    """
    stuck_after = dt.timedelta(seconds=stuck_after_seconds)
    with database.session() as session:
        recording = store.playable_recording(session, business_id, call_sid)
        if recording is None:
            return None
        if recording.status == RecordingStatus.READY and recording.file_path:
            file = recording_files.StoredFile(recording.file_path)
            if files.existing_size(file) == recording.size_bytes:  # StorageUnavailable: the caller's 503
                return Playback(PlaybackState.READY, recording, file=file)
        if recording.status == RecordingStatus.ABSENT:
            return Playback(PlaybackState.ABSENT, recording,
                            detail="Twilio reported that this call has no recording.")
        claim = recording.priority_job_id or ""
        if claim.startswith(store.CLAIM_PREFIX):  # another request is enqueueing it right now
            return Playback(PlaybackState.PENDING, recording)
        priority = job_store.get_job(session, claim) if claim else None
        background = (job_store.get_job(session, recording.download_job_id)
                      if recording.download_job_id else None)
    now = utcnow()

    def stuck(job):
        return _active(job) and now - _last_progress(job) > stuck_after

    if _active(priority) and not stuck(priority):
        return Playback(PlaybackState.PENDING, recording, job=priority)
    if background is not None and background.status == JobStatus.RUNNING and not stuck(background):
        return Playback(PlaybackState.PENDING, recording, job=background)
    if recording.priority_enqueues > MAX_PRIORITY_REENQUEUES:
        return _gave_up(recording, priority, stuck(priority), idle_queues())
    return _enqueue_priority(database, business_id, recording, priority)


def _gave_up(recording: Recording, job: Optional[BackgroundJob], is_stuck: bool, idle: list[str]) -> Playback:
    if job is not None and job.status == JobStatus.FAILED and not is_stuck:
        # The business sees this: the error's class and reason, never its text (hosts, ports, URLs).
        detail = f"The recording could not be downloaded ({error_class(job.error)}, {job.error_reason or 'failed'})."
        return Playback(PlaybackState.FAILED, recording, job=job, detail=detail)
    queue = job.queue if job is not None else "high"
    if queue in idle:
        detail = (f"The recording download has waited on queue '{queue}', which has no working consumer "
                  f"(queues without a consumer: {', '.join(idle)}). Start a worker for it (WORKER_QUEUES).")
    else:
        detail = (f"The recording download on queue '{queue}' made no progress after "
                  f"{1 + MAX_PRIORITY_REENQUEUES} attempts; check the workers of that queue.")
    log.warning("RECORDING_PLAYBACK_STUCK business_id=%s call_sid=%s recording_sid=%s queue=%s idle_queues=%s",
                recording.business_id, recording.call_sid, recording.recording_sid, queue, ",".join(idle) or "-")
    return Playback(PlaybackState.STUCK, recording, job=job, detail=detail)


def _enqueue_priority(database: Database, business_id: int, recording: Recording,
                      previous: Optional[BackgroundJob]) -> Playback:
    token = secrets.token_hex(8)
    with database.session() as session:
        if not store.claim_priority_download(session, recording.id, seen_job_id=recording.priority_job_id,
                                             token=token):
            return Playback(PlaybackState.PENDING, recording)  # a concurrent request won; it enqueues the download
        store.revive_failed_for_priority(session, recording.id)

    def release_claim():  # the user's next request may claim the priority download again
        with database.session() as session:
            store.settle_priority_claim(session, recording.id, token, None)

    enqueued = enqueue_tracked_or_undo(download_recording, business_id=business_id,
                                       kwargs={"recording_sid": recording.recording_sid,
                                               "call_sid": recording.call_sid},
                                       queue_name="high", undo=release_claim)
    with database.session() as session:
        store.settle_priority_claim(session, recording.id, token, enqueued.job_id)
    log.info("RECORDING_PRIORITY_ENQUEUED business_id=%s call_sid=%s recording_sid=%s job_id=%s attempt=%d "
             "previous_job=%s previous_status=%s", business_id, recording.call_sid, recording.recording_sid,
             enqueued.job_id, recording.priority_enqueues + 1, previous.id if previous else "-",
             previous.status if previous else "-")
    return Playback(PlaybackState.PENDING, recording, job=enqueued.job)
