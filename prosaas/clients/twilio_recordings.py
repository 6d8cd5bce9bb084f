"""Twilio recordings: check a callback's signature, and fetch `RecordingUrl.mp3` from an allowed host to a file.

Transient failures (Twilio's 404 in the first seconds after the callback, 5xx, timeouts, a short
body) raise `RecordingNotReady`/`RecordingUnavailable` so the job machinery retries; refusals that
retrying cannot fix (a host off the allow-list, 401/403) raise `PermanentError` subclasses.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urljoin, urlsplit

import requests
from twilio.request_validator import RequestValidator

from prosaas.clients import recording_files
from prosaas.errors import PermanentError
from prosaas.settings import get_settings

log = logging.getLogger("prosaas.clients.twilio_recordings")

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30  # between two chunks, not for the whole file
CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


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


def check_host(url: str) -> None:
    """Refuse (and log) any URL whose host is not in TWILIO_RECORDING_HOSTS; plain http only on loopback."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = get_settings().recording_hosts
    if host not in allowed:
        log.warning("RECORDING_HOST_REFUSED host=%s reason=not_in_allow_list allowed=%s", host or "-",
                    ",".join(sorted(allowed)))
        raise RecordingHostRefused(f"recording host {host or '?'!r} is not in TWILIO_RECORDING_HOSTS")
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        log.warning("RECORDING_HOST_REFUSED host=%s reason=scheme_%s", host, parts.scheme or "none")
        raise RecordingHostRefused(f"recording URL scheme {parts.scheme!r} refused (https required)")


def _open(url: str) -> requests.Response:
    """GET with the account's basic auth, following redirects only to allowed hosts."""
    settings = get_settings()
    auth = (settings.twilio_account_sid, settings.twilio_auth_token)
    for _hop in range(MAX_REDIRECTS + 1):
        check_host(url)
        try:
            response = requests.get(url, auth=auth, stream=True, allow_redirects=False,
                                    timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS))
        except requests.RequestException as exc:
            raise RecordingUnavailable(f"GET recording: {type(exc).__name__}") from exc
        if response.is_redirect and response.headers.get("Location"):
            next_url = urljoin(url, response.headers["Location"])
            response.close()
            if urlsplit(next_url).hostname != urlsplit(url).hostname:
                auth = None  # never hand the account's credentials to another host
            url = next_url
            continue
        return response
    raise RecordingUnavailable("too many redirects")


def _check_status(response: requests.Response) -> None:
    status = response.status_code
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


def download_recording(recording_url: str, destination: Path, *, expected_size: Optional[int] = None) -> Download:
    """Fetch the recording's mp3 into `destination` (atomic, byte count checked); idempotent.

    A file already at `destination` is complete (it got there by an atomic rename after its byte
    count was checked); with `expected_size` known it must match, else it is fetched again.
    """
    check_host(media_url(recording_url))  # refused before anything else, even when the file is here
    present = recording_files.existing_size(destination)
    if present is not None and (expected_size is None or present == expected_size):
        return Download(size_bytes=present, duration_ms=0, fetched=False)
    started = time.monotonic()
    response = _open(media_url(recording_url))
    _check_status(response)
    length = response.headers.get("Content-Length")
    announced = int(length) if length and length.isdigit() else None
    try:
        size = recording_files.write_atomically(destination, _chunks(response), expected_size=announced)
    except recording_files.IncompleteWrite as exc:
        raise RecordingUnavailable(f"short download: {exc}") from exc
    finally:
        response.close()
    return Download(size_bytes=size, duration_ms=int((time.monotonic() - started) * 1000), fetched=True)


def _chunks(response: requests.Response):
    try:
        yield from response.iter_content(CHUNK_BYTES)
    except requests.RequestException as exc:
        raise RecordingUnavailable(f"connection broke mid-download: {type(exc).__name__}") from exc
