"""POST /api/sessions (audio upload → 202 {session_id, job_id}) and GET /api/sessions/{id}."""
from __future__ import annotations

from typing import Optional

import falcon
from pydantic import BaseModel
from spectree import Response

from actors.sessions_service import session_view, start_audio_session
from db import Database
from prosaas.clients import recording_files, transcription
from prosaas.clients.storage import StorageUnavailable
from web.spec import ErrorBody, api

READ_CHUNK = 64 * 1024
# Formats the decoder (miniaudio) reads, recognised by their first bytes rather than by the client's word.
EXTENSIONS = {"mp3": ".mp3", "wav": ".wav", "flac": ".flac", "ogg": ".ogg"}


def sniff_audio(head: bytes) -> Optional[str]:
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    return None


SNIFFED_CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg"}


def _unsupported(what: str) -> falcon.HTTPUnsupportedMediaType:
    return falcon.HTTPUnsupportedMediaType(
        title="Unsupported media type",
        description=f"{what}; send an audio file (mp3, wav, flac or ogg) as multipart field 'file' "
                    f"or as the raw body with an audio/* Content-Type.")


def _audio_part(req):
    """(stream, content_type, filename) of the upload: a multipart 'file' part or a raw audio/* body."""
    content_type = (req.content_type or "").lower()
    if content_type.startswith("audio/"):
        return req.bounded_stream, content_type.split(";")[0].strip(), None
    if not content_type.startswith("multipart/form-data"):
        raise _unsupported(f"Content-Type {content_type or 'none'} is not audio")
    for part in req.get_media():
        if part.name not in ("file", "audio"):
            continue
        part_type = (part.content_type or "").lower().split(";")[0].strip()
        # curl labels a file part application/octet-stream: the bytes decide (sniff_audio), not the label.
        return part.stream, part_type if part_type.startswith("audio/") else None, \
            part.secure_filename if part.filename else None
    raise falcon.HTTPUnprocessableEntity(title="Invalid request", description="No multipart field 'file'.")


def _chunks(stream, first: bytes):
    yield first
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return
        yield chunk


class Accepted(BaseModel):
    session_id: str
    job_id: str


class SessionOut(BaseModel):
    id: str
    status: str
    job_id: Optional[str]
    attempts: int
    error: Optional[str]
    result: Optional[dict]
    size_bytes: int
    content_type: str
    filename: Optional[str]
    created_at: str
    finished_at: Optional[str]


class Sessions:
    """POST /api/sessions: an upload of at most `max_bytes` (MAX_BODY_BYTES) stored in `files`, refused when its
    header declares more than `max_seconds` (SESSION_MAX_SECONDS)."""

    auth = "business"

    def __init__(self, database: Database, files: recording_files.RecordingFiles, *, max_bytes: int,
                 max_seconds: int):
        self.database = database
        self.files = files
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds

    @api.validate(resp=Response(HTTP_202=Accepted, HTTP_413=ErrorBody, HTTP_415=ErrorBody, HTTP_422=ErrorBody),
                  tags=["sessions"])
    def on_post(self, req, resp):
        """Upload an audio session (multipart field `file`, audio/*); it is processed in the background."""
        business_id = req.context.business_id
        limit = self.max_bytes
        stream, content_type, filename = _audio_part(req)
        head = stream.read(READ_CHUNK)
        kind = sniff_audio(head)
        if kind is None:
            raise _unsupported("the file is not mp3, wav, flac or ogg audio")
        try:
            session_id, job_id = start_audio_session(
                self.database, business_id, _chunks(stream, head), files=self.files, extension=EXTENSIONS[kind],
                content_type=content_type or SNIFFED_CONTENT_TYPES[kind], filename=filename, max_bytes=limit,
                max_seconds=self.max_seconds)
        except recording_files.TooLarge:
            raise falcon.HTTPContentTooLarge(title="Audio too large",
                                             description=f"The audio file is over the {limit}-byte limit.") from None
        except transcription.BadAudio as exc:  # its header declares more than SESSION_MAX_SECONDS
            raise falcon.HTTPUnprocessableEntity(title="Audio too long",
                                                 description=f"{exc} (SESSION_MAX_SECONDS).") from None
        except StorageUnavailable:
            raise falcon.HTTPServiceUnavailable(title="Storage unavailable", retry_after=5,
                                                description="The audio store did not answer; try again.") from None
        resp.status = falcon.HTTP_202
        resp.media = {"session_id": session_id, "job_id": job_id}


class SessionResource:
    auth = "business"

    def __init__(self, database: Database):
        self.database = database

    @api.validate(resp=Response(HTTP_200=SessionOut, HTTP_404=ErrorBody), tags=["sessions"])
    def on_get(self, req, resp, session_id: str):
        """An audio session: status, attempts, error, and the result (duration, segments, speakers, words)."""
        view = session_view(self.database, req.context.business_id, session_id)
        if view is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"No session {session_id}.")
        resp.media = view

