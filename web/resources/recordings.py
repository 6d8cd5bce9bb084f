"""Twilio's recording-status callback, a call with its recording/transcript, and playback with Range support."""
from __future__ import annotations

import logging
import re
from typing import Callable, Literal, Optional

import falcon
from pydantic import BaseModel, Field, ValidationError
from spectree import Response

from actors.recordings_service import Playback, PlaybackState, accept_recording_callback, request_playback
from db import Database
from db import recordings_store as store
from db.businesses import get_business
from prosaas.clients import recording_files, twilio_callbacks, twilio_recordings
from prosaas.clients.storage import StorageError, StorageUnavailable
from prosaas.errors import error_class
from prosaas.settings import Settings
from web.input_guard import DatabaseId
from web.spec import ErrorBody, api, validation_problems

log = logging.getLogger("prosaas.web.recordings")

RETRY_AFTER_SECONDS = 2


class RecordingCallbackQuery(BaseModel):
    business_id: DatabaseId
    token: str = Field(default="", max_length=64)


class RecordingCallbackForm(BaseModel):
    """Twilio's RecordingStatusCallback fields we use (the other Twilio parameters are ignored)."""

    AccountSid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    CallSid: str = Field(pattern=r"^CA[0-9a-fA-F]{32}$")
    RecordingSid: str = Field(pattern=r"^RE[0-9a-fA-F]{32}$")
    RecordingUrl: Optional[str] = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=2000)
    RecordingStatus: Literal["in-progress", "completed", "absent", "failed"]
    RecordingDuration: Optional[int] = Field(default=None, ge=-1, le=7 * 24 * 3600)
    RecordingChannels: Optional[int] = Field(default=None, ge=1, le=2)


def public_url(req, settings) -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path + query when set (behind a proxy), else the request's."""
    if settings.public_base_url:
        query = f"?{req.query_string}" if req.query_string else ""
        return settings.public_base_url.rstrip("/") + req.path + query
    return req.uri


class TwilioRecordingStatus:
    """POST /twilio/recording-status?business_id=ID&token=T: signed by Twilio; 204 at once, the download is queued.

    The token binds the URL to the business (see prosaas.clients.twilio_callbacks): a signed callback
    replayed with another business_id, or with a form field Twilio never sends, is refused. `settings`
    gives the account (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN), the callback secret and PUBLIC_BASE_URL.
    """

    auth = "signed"
    max_body_bytes = 64 * 1024  # Twilio's callback form is ~1 KB: read no more before checking the signature

    def __init__(self, database: Database, settings: Settings):
        self.database = database
        self.settings = settings

    def on_post(self, req, resp):
        settings = self.settings
        if not settings.twilio_auth_token:  # as the WhatsApp webhook: name the missing setting, not "bad signature"
            raise falcon.HTTPServiceUnavailable(title="Webhook not configured",
                                                description="TWILIO_AUTH_TOKEN is not set on this server.")
        form = req.get_media(default_when_empty={}) if req.content_type and \
            req.content_type.startswith("application/x-www-form-urlencoded") else None
        if form is None:
            raise falcon.HTTPUnsupportedMediaType(title="Unsupported media type",
                                                  description="Send application/x-www-form-urlencoded.")
        params = {k: (v[-1] if isinstance(v, list) else v) for k, v in form.items()}
        url = public_url(req, settings)
        if not twilio_recordings.signature_is_valid(url, form, req.get_header("X-Twilio-Signature"),
                                                    auth_token=settings.twilio_auth_token):
            log.warning("TWILIO_SIGNATURE_INVALID path=%s has_signature=%s", req.path,
                        bool(req.get_header("X-Twilio-Signature")))
            raise falcon.HTTPForbidden(title="Forbidden", description="Invalid or missing X-Twilio-Signature.")
        try:
            query = RecordingCallbackQuery(business_id=req.get_param("business_id"),
                                           token=req.get_param("token") or "")
        except ValidationError as exc:
            raise falcon.HTTPUnprocessableEntity(title="Invalid request", description=validation_problems(exc)) from None
        if not twilio_callbacks.token_is_valid(settings, query.business_id, query.token):
            log.warning("TWILIO_CALLBACK_TOKEN_INVALID business_id=%s has_token=%s", query.business_id,
                        bool(query.token))
            raise falcon.HTTPForbidden(title="Forbidden",
                                       description="The callback URL's token does not match its business_id.")
        unexpected = twilio_callbacks.unexpected_parameters(form)
        if unexpected:
            raise falcon.HTTPUnprocessableEntity(
                title="Invalid request",
                description=f"{unexpected[0][:64]}: not a Twilio RecordingStatusCallback parameter")
        try:
            fields = RecordingCallbackForm(**params)
        except ValidationError as exc:
            raise falcon.HTTPUnprocessableEntity(title="Invalid request", description=validation_problems(exc)) from None
        if fields.AccountSid != settings.twilio_account_sid:
            log.warning("TWILIO_CALLBACK_ACCOUNT_MISMATCH business_id=%s", query.business_id)
            raise falcon.HTTPForbidden(title="Forbidden", description="AccountSid is not this install's account.")
        if fields.RecordingStatus == "completed" and not fields.RecordingUrl:
            raise falcon.HTTPUnprocessableEntity(title="Invalid request",
                                                 description="RecordingUrl: required for a completed recording")
        with self.database.session() as session:
            if get_business(session, query.business_id) is None:
                raise falcon.HTTPNotFound(title="Not found", description=f"No business {query.business_id}.")
        accept_recording_callback(
            self.database, query.business_id, call_sid=fields.CallSid, recording_sid=fields.RecordingSid,
            recording_url=fields.RecordingUrl or "", recording_status=fields.RecordingStatus,
            duration_s=fields.RecordingDuration if (fields.RecordingDuration or 0) >= 0 else None,
            channels=fields.RecordingChannels)
        resp.status = falcon.HTTP_204


def recording_view(recording, call_sid: str) -> dict:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "recording_sid": recording.recording_sid, "status": recording.status, "size_bytes": recording.size_bytes,
        "duration_s": recording.duration_s, "twilio_duration_s": recording.twilio_duration_s,
        "download_job_id": recording.download_job_id,
        "priority_job_id": (recording.priority_job_id if recording.priority_job_id
                            and not recording.priority_job_id.startswith(store.CLAIM_PREFIX) else None),
        "error": error_class(recording.error), "created_at": iso(recording.created_at),
        "downloaded_at": iso(recording.downloaded_at), "expired_at": iso(recording.expired_at),
        "url": f"/api/calls/{call_sid}/recording",
    }


def transcript_view(recording) -> dict:
    transcript = recording.transcript or {}
    return {"status": recording.transcript_status, "job_id": recording.transcript_job_id,
            "error": error_class(recording.transcript_error), "provider": transcript.get("provider"),
            "duration_s": transcript.get("duration_s"), "speakers": transcript.get("speakers"),
            "segments": transcript.get("segments", []), "words": transcript.get("words"),
            "text": transcript.get("text")}


class CallOut(BaseModel):
    call_sid: str
    created_at: str
    recordings_expired_at: Optional[str]
    recording: Optional[dict]
    transcript: Optional[dict]
    recordings: list[dict]


class Pending(BaseModel):
    status: str
    job_id: Optional[str]
    recording_sid: str


class CallResource:
    auth = "business"

    def __init__(self, database: Database):
        self.database = database

    @api.validate(resp=Response(HTTP_200=CallOut, HTTP_404=ErrorBody), tags=["calls"])
    def on_get(self, req, resp, call_sid: str):
        """A call with its recording status and transcript (status and speech segments)."""
        business_id = req.context.business_id
        with self.database.session() as session:
            call = store.get_call(session, business_id, call_sid)
            if call is None:
                raise falcon.HTTPNotFound(title="Not found", description=f"No call {call_sid}.")
            recordings = store.recordings_of_call(session, business_id, call_sid)
            playable = store.playable_recording(session, business_id, call_sid)
            resp.media = {
                "call_sid": call.call_sid, "created_at": call.created_at.isoformat(),
                "recordings_expired_at": call.recordings_expired_at.isoformat() if call.recordings_expired_at
                else None,
                "recording": recording_view(playable, call_sid) if playable else None,
                "transcript": transcript_view(playable) if playable else None,
                "recordings": [recording_view(r, call_sid) for r in recordings],
            }


ByteRange = tuple[int, int]  # inclusive first and last byte
RANGE = re.compile(r"[ \t]*bytes[ \t]*=[ \t]*([0-9]{0,18})[ \t]*-[ \t]*([0-9]{0,18})[ \t]*")
LONG_RANGE = re.compile(r"[ \t]*bytes[ \t]*=[ \t]*[0-9]*[ \t]*-[ \t]*[0-9]*[ \t]*")


def parse_range(header: Optional[str], size: int) -> Optional[ByteRange | str]:
    """One byte range from a Range header: (first, last), None to send it all, or "unsatisfiable"."""
    if not header:
        return None
    match = RANGE.fullmatch(header)
    if match is None and LONG_RANGE.fullmatch(header):
        return "unsatisfiable"  # a position of 19+ digits: past any file, and int() never sees 5,000 digits
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multiple ranges or garbage: RFC 9110 lets us ignore it and send everything
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


def _storage_unavailable(exc: Exception) -> falcon.HTTPServiceUnavailable:
    log.warning("RECORDING_STORAGE_UNAVAILABLE error=%s", type(exc.__cause__ or exc).__name__)
    return falcon.HTTPServiceUnavailable(title="Storage unavailable", retry_after=5,
                                         description="The recordings store did not answer; try again shortly.")


class CallRecording:
    """GET|HEAD /api/calls/{call_sid}/recording: the mp3 from the shared store (Range → 206, a ranged GET on
    the store), or 202 while a priority download runs."""

    auth = "business"

    def __init__(self, database: Database, files: recording_files.RecordingFiles, *, stuck_after_seconds: float,
                 idle_queues: Callable[[], list[str]]):
        self.database = database
        self.files = files
        self.stuck_after_seconds = stuck_after_seconds  # RECORDING_STUCK_AFTER_SECONDS
        self.idle_queues = idle_queues  # queues no live worker consumes, named when a download gave up

    def _playback(self, req, resp, call_sid: str) -> Playback:
        try:
            playback = request_playback(self.database, req.context.business_id, call_sid, files=self.files,
                                        stuck_after_seconds=self.stuck_after_seconds, idle_queues=self.idle_queues)
        except StorageUnavailable as exc:
            raise _storage_unavailable(exc) from None
        if playback is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No recording for call {call_sid}.")
        if playback.state is PlaybackState.ABSENT:
            raise falcon.HTTPNotFound(title="Not found", description=playback.detail)
        if playback.state is PlaybackState.STUCK:
            raise falcon.HTTPServiceUnavailable(title="Recording download stuck", description=playback.detail,
                                                retry_after=30)
        if playback.state is PlaybackState.FAILED:
            raise falcon.HTTPBadGateway(title="Recording download failed", description=playback.detail)
        if playback.state is PlaybackState.PENDING:
            resp.status = falcon.HTTP_202
            resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            resp.media = {"status": playback.job.status if playback.job else "queued",
                          "job_id": playback.job.id if playback.job else None,
                          "recording_sid": playback.recording.recording_sid}
        return playback

    def _serve(self, req, resp, playback: Playback, *, with_body: bool) -> None:
        size = playback.recording.size_bytes or 0
        wanted = parse_range(req.get_header("Range"), size)
        if wanted == "unsatisfiable":
            raise falcon.HTTPRangeNotSatisfiable(resource_length=size, title="Range not satisfiable",
                                                 description=f"The recording has {size} bytes.")
        resp.content_type = "audio/mpeg"
        resp.set_header("Accept-Ranges", "bytes")
        resp.set_header("Cache-Control", "private, max-age=3600")
        resp.set_header("ETag", f'"{playback.recording.recording_sid}-{size}"')
        first, last = wanted if wanted else (0, size - 1)
        if wanted:
            resp.status = falcon.HTTP_206
            resp.set_header("Content-Range", f"bytes {first}-{last}/{size}")
        else:
            resp.status = falcon.HTTP_200
        length = last - first + 1 if size else 0
        resp.content_length = length
        if not with_body or not length:
            return
        try:  # a ranged GET on the store: the bytes come from the shared copy, never from Twilio again
            resp.stream = self.files.open_range(playback.file, first, last)
        except StorageError as exc:  # down, or expired between the size check and this read
            raise _storage_unavailable(exc) from None

    @api.validate(resp=Response("HTTP_200", "HTTP_206", "HTTP_416", HTTP_202=Pending, HTTP_404=ErrorBody,
                                HTTP_502=ErrorBody, HTTP_503=ErrorBody), tags=["calls"])
    def on_get(self, req, resp, call_sid: str):
        """The call's recording as audio/mpeg (Range → 206); 202 + Retry-After while it is being fetched."""
        playback = self._playback(req, resp, call_sid)
        if playback.state is PlaybackState.READY:
            self._serve(req, resp, playback, with_body=True)

    def on_head(self, req, resp, call_sid: str):
        playback = self._playback(req, resp, call_sid)
        if playback.state is PlaybackState.READY:
            self._serve(req, resp, playback, with_body=False)

