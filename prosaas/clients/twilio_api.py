"""Twilio's REST API through the twilio library: deleting Twilio's copy of a recording after retention.

`TWILIO_API_BASE_URL` (default https://api.twilio.com) is where the library sends its requests, so a
local fake Twilio in tests and the real one meet the same code path.
"""
from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from prosaas.settings import get_settings

log = logging.getLogger("prosaas.clients.twilio_api")


def _client() -> Client:
    settings = get_settings()
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
    client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


def delete_recording(recording_sid: str) -> bool:
    """Delete Twilio's copy; True when it is gone (deleted now, or already: 404), False when Twilio refused."""
    try:
        _client().api.account.recordings(recording_sid).delete()
        return True
    except TwilioRestException as exc:
        if exc.status == 404:
            return True
        log.warning("RECORDING_TWILIO_DELETE_FAILED recording_sid=%s status=%s", recording_sid, exc.status)
        return False
    except (TwilioException, OSError) as exc:  # unreachable, timed out: tried again at the next cleanup
        log.warning("RECORDING_TWILIO_DELETE_FAILED recording_sid=%s error=%s", recording_sid, type(exc).__name__)
        return False
