"""Twilio recordings: check a callback's signature, and fetch `RecordingUrl.mp3` from an allowed host to a file.

The fetch (`RecordingDownloader`) goes through the guarded client: the host and port decided as the
connection will use them, only from its allow-list (TWILIO_RECORDING_HOSTS), the account's credentials
only to that host, at most its byte cap (RECORDING_MAX_BYTES). Transient failures (Twilio's 404 in
the first seconds after the callback, 5xx, timeouts, a short body) raise `RecordingNotReady`/
`RecordingUnavailable` so the job machinery retries; refusals that retrying cannot fix (a host off the
allow-list, 401/403) raise `PermanentError` subclasses.
"""
from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass
from typing import Mapping, Optional

from twilio.request_validator import RequestValidator

from prosaas.clients import guarded_http, recording_files
from prosaas.clients.guarded_http import AllowList, GuardedResponse, OutboundRefused, OutboundUnavailable, Target
from prosaas.errors import PermanentError

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


def signature_is_valid(url: str, params: Mapping[str, object], signature: Optional[str], *, auth_token: str) -> bool:
    """Twilio's X-Twilio-Signature over the full public URL and the form parameters, keyed by the auth token."""
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, _FormParams(params), signature))


def media_url(recording_url: str) -> str:
    """Twilio serves the recording as mp3 at RecordingUrl + '.mp3'."""
    return recording_url if recording_url.endswith(".mp3") else recording_url + ".mp3"


def _refused(exc: OutboundRefused) -> RecordingHostRefused:
    log.warning("RECORDING_HOST_REFUSED host=%s reason=%s", exc.host, exc.why)
    return RecordingHostRefused(str(exc))


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


def _chunks(response: GuardedResponse):
    try:
        yield from response.iter_chunks(CHUNK_BYTES)
    except OutboundUnavailable as exc:
        raise RecordingUnavailable(f"mid-download: {exc}") from None


class RecordingDownloader:
    """Fetches recordings into `files` from the hosts of `allow`, with the account's basic auth, at most
    `max_bytes` each.

    >>> downloader = RecordingDownloader(files, allow=AllowList.parse("api.twilio.com", "TWILIO_RECORDING_HOSTS"),
    ...                                  account_sid="AC…", auth_token="…", max_bytes=200_000_000)
    >>> downloader.download(recording_url, stored_file(7, "RE1.mp3"))
    """

    def __init__(self, files: recording_files.RecordingFiles, *, allow: AllowList, account_sid: str,
                 auth_token: str, max_bytes: int, timeouts: guarded_http.Timeouts = TIMEOUTS):
        self.files = files
        self.allow = allow
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.max_bytes = max_bytes
        self.timeouts = timeouts

    def check_host(self, url: str) -> Target:
        """The host and port a recording URL really connects to, if the allow-list has it (no DNS)."""
        try:
            return self.allow.check(url)
        except OutboundRefused as exc:
            raise _refused(exc) from None

    def _basic_auth(self) -> str:
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _open(self, url: str) -> GuardedResponse:
        """GET with the account's basic auth (to the checked host only), following checked redirects."""
        try:
            return guarded_http.request("GET", url, allow=self.allow, authorization=self._basic_auth(),
                                        max_redirects=MAX_REDIRECTS, max_bytes=self.max_bytes,
                                        timeouts=self.timeouts)
        except OutboundRefused as exc:
            raise _refused(exc) from None
        except OutboundUnavailable as exc:
            raise RecordingUnavailable(f"GET recording: {exc}") from None

    def download(self, recording_url: str, destination: recording_files.StoredFile, *,
                 expected_size: Optional[int] = None) -> Download:
        """Fetch the recording's mp3 into the store at `destination` (atomic, byte count checked); idempotent.

        An object already at `destination` is complete (it got there by an atomic rename after its byte
        count was checked); with `expected_size` known it must match, else it is fetched again.
        """
        self.check_host(media_url(recording_url))  # refused before anything else, even when the file is here
        present = self.files.existing_size(destination)
        if present is not None and (expected_size is None or present == expected_size):
            return Download(size_bytes=present, duration_ms=0, fetched=False)
        started = time.monotonic()
        response = self._open(media_url(recording_url))
        _check_status(response)
        announced = response.content_length()
        try:
            size = self.files.write_atomically(destination, _chunks(response), expected_size=announced)
        except recording_files.IncompleteWrite as exc:
            raise RecordingUnavailable(f"short download: {exc}") from exc
        finally:
            response.close()
        return Download(size_bytes=size, duration_ms=int((time.monotonic() - started) * 1000), fetched=True)


def from_settings(settings, files: recording_files.RecordingFiles) -> RecordingDownloader:
    """TWILIO_RECORDING_HOSTS, TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN and RECORDING_MAX_BYTES."""
    return RecordingDownloader(files, allow=settings.recording_allow_list, account_sid=settings.twilio_account_sid,
                               auth_token=settings.twilio_auth_token, max_bytes=settings.recording_max_bytes)
