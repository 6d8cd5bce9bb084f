"""Twilio recordings: check a callback's signature, and fetch `RecordingUrl.mp3` from an allowed host to a file.

The fetch goes through the guarded client: the host and port decided as the connection will use
them, only from TWILIO_RECORDING_HOSTS, the account's credentials only to that host, at most
RECORDING_MAX_BYTES. Transient failures (Twilio's 404 in the first seconds after the callback, 5xx, timeouts, a short
body) raise `RecordingNotReady`/`RecordingUnavailable` so the job machinery retries; refusals that
retrying cannot fix (a host off the allow-list, 401/403) raise `PermanentError` subclasses.
"""
from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from typing import Mapping, Optional

from twilio.request_validator import RequestValidator

from prosaas.clients import guarded_http, recording_files
from prosaas.clients.guarded_http import GuardedResponse, OutboundRefused, OutboundUnavailable, Target
from prosaas.errors import PermanentError
from prosaas.settings import get_settings

log = logging.getLogger("prosaas.clients.twilio_recordings")

# read: between two chunks; total: under the download actor's 15 min time limit
TIMEOUTS = guarded_http.Timeouts(connect=5, read=30, total=14 * 60)
CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3


class RecordingHostRefused(PermanentError):
    reason = "host_refused"


class RecordingAccessDenied(PermanentError):
    reason = "twilio_auth"


class RecordingNotReady(Exception):
    """Twilio answered 404: right after the callback the media is often not there yet."""


class RecordingUnavailable(Exception):
    """5xx, a timeout, a broken connection or a short body: worth another try later."""


@dataclass(frozen=True)
class Download:
    size_bytes: int
    duration_ms: int
    fetched: bool  # False when the complete file was already there


class _FormParams(dict):
    """Form fields for twilio's validator, which reads repeated fields through `getall`."""

    def getall(self, name: str) -> list[str]:
        value = self[name]
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def signature_is_valid(url: str, params: Mapping[str, object], signature: Optional[str]) -> bool:
    """Twilio's X-Twilio-Signature over the full public URL and the form parameters."""
    token = get_settings().twilio_auth_token
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, _FormParams(params), signature))


def media_url(recording_url: str) -> str:
    """Twilio serves the recording as mp3 at RecordingUrl + '.mp3'."""
    return recording_url if recording_url.endswith(".mp3") else recording_url + ".mp3"


def check_host(url: str) -> Target:
    """The host and port a recording URL really connects to, if TWILIO_RECORDING_HOSTS allows it (no DNS)."""
    try:
        return get_settings().recording_allow_list.check(url)
    except OutboundRefused as exc:
        raise _refused(exc) from None


def _refused(exc: OutboundRefused) -> RecordingHostRefused:
    log.warning("RECORDING_HOST_REFUSED host=%s reason=%s", exc.host, exc.why)
    return RecordingHostRefused(str(exc))


def _basic_auth() -> str:
    settings = get_settings()
    pair = f"{settings.twilio_account_sid}:{settings.twilio_auth_token}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _open(url: str) -> GuardedResponse:
    """GET with the account's basic auth (to the checked host only), following checked redirects."""
    try:
        return guarded_http.request("GET", url, allow=get_settings().recording_allow_list,
                                    authorization=_basic_auth(), max_redirects=MAX_REDIRECTS,
                                    max_bytes=get_settings().recording_max_bytes, timeouts=TIMEOUTS)
    except OutboundRefused as exc:
        raise _refused(exc) from None
    except OutboundUnavailable as exc:
        raise RecordingUnavailable(f"GET recording: {exc}") from None


def _check_status(response: GuardedResponse) -> None:
    status = response.status
    if status == 200:
        return
    response.close()
    if status in (401, 403):
        raise RecordingAccessDenied(f"Twilio refused the credentials (HTTP {status})")
    if status == 404:
        raise RecordingNotReady("Twilio answered 404 (recording not available yet)")
    if status == 429 or status >= 500:
        raise RecordingUnavailable(f"Twilio answered HTTP {status}")
    raise PermanentError(f"Twilio answered HTTP {status}")


def download_recording(recording_url: str, destination: recording_files.StoredFile, *,
                       expected_size: Optional[int] = None) -> Download:
    """Fetch the recording's mp3 into the store at `destination` (atomic, byte count checked); idempotent.

    An object already at `destination` is complete (it got there by an atomic rename after its byte
    count was checked); with `expected_size` known it must match, else it is fetched again.
    """
    check_host(media_url(recording_url))  # refused before anything else, even when the file is here
    present = recording_files.existing_size(destination)
    if present is not None and (expected_size is None or present == expected_size):
        return Download(size_bytes=present, duration_ms=0, fetched=False)
    started = time.monotonic()
    response = _open(media_url(recording_url))
    _check_status(response)
    announced = response.content_length()
    try:
        size = recording_files.write_atomically(destination, _chunks(response), expected_size=announced)
    except recording_files.IncompleteWrite as exc:
        raise RecordingUnavailable(f"short download: {exc}") from exc
    finally:
        response.close()
    return Download(size_bytes=size, duration_ms=int((time.monotonic() - started) * 1000), fetched=True)


def _chunks(response: GuardedResponse):
    try:
        yield from response.iter_chunks(CHUNK_BYTES)
    except OutboundUnavailable as exc:
        raise RecordingUnavailable(f"mid-download: {exc}") from None
