"""Which business a Twilio recording-status callback belongs to, in a way a replay cannot move.

Twilio signs the URL followed by the sorted form names and values with no separators, so the
same signature also fits a shorter URL plus an extra form field. Each business's callback URL
therefore carries a token (an HMAC of its id with a server secret), the form may hold only the
parameters Twilio sends with a RecordingStatusCallback, and AccountSid must be ours.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Iterable, Optional
from urllib.parse import urlencode

from prosaas.settings import Settings

CALLBACK_PATH = "/twilio/recording-status"
TOKEN_HEX_CHARS = 32

# What Twilio posts to a RecordingStatusCallback (calls, <Dial>/<Record>/<Start><Recording>, conferences).
RECORDING_CALLBACK_PARAMETERS = frozenset({
    "AccountSid", "CallSid", "ConferenceSid", "RecordingSid", "RecordingUrl", "RecordingStatus",
    "RecordingDuration", "RecordingChannels", "RecordingSource", "RecordingStartTime", "RecordingTrack",
    "ErrorCode",
})


def _key(settings: Settings) -> Optional[bytes]:
    secret = settings.twilio_callback_secret or settings.twilio_auth_token
    return secret.encode() if secret else None


def callback_token(settings: Settings, business_id: int) -> Optional[str]:
    """The token in business `business_id`'s callback URL; None when no secret is configured."""
    key = _key(settings)
    if key is None:
        return None
    digest = hmac.new(key, f"recording-status-callback:{int(business_id)}".encode(), hashlib.sha256)
    return digest.hexdigest()[:TOKEN_HEX_CHARS]


def token_is_valid(settings: Settings, business_id: int, token: Optional[str]) -> bool:
    expected = callback_token(settings, business_id)
    return bool(expected and token and hmac.compare_digest(expected, token))


def callback_path(settings: Settings, business_id: int) -> Optional[str]:
    """Path and query of the business's callback (what Twilio is given after PUBLIC_BASE_URL)."""
    token = callback_token(settings, business_id)
    if token is None:
        return None
    return f"{CALLBACK_PATH}?{urlencode({'business_id': int(business_id), 'token': token})}"


def recording_status_callback(settings: Settings, business_id: int) -> Optional[str]:
    """The full URL to give Twilio as RecordingStatusCallback; None without PUBLIC_BASE_URL or a secret."""
    path = callback_path(settings, business_id)
    if path is None or not settings.public_base_url:
        return None
    return settings.public_base_url.rstrip("/") + path


def unexpected_parameters(names: Iterable[str]) -> list[str]:
    """Form fields that Twilio never sends with a RecordingStatusCallback, sorted."""
    return sorted(set(names) - RECORDING_CALLBACK_PARAMETERS)
