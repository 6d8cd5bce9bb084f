"""Twilio's REST API through the twilio library: deleting Twilio's copy of a recording after retention.

The API base URL (TWILIO_API_BASE_URL, default https://api.twilio.com) is where the library sends its
requests, so a local fake Twilio in tests and the real one meet the same code path.
"""
from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

log = logging.getLogger("prosaas.clients.twilio_api")


class TwilioApi:
    """The account's REST API: `account_sid` and `auth_token` sent to `base_url`.

    >>> TwilioApi("AC…", "token", base_url="https://api.twilio.com").delete_recording("RE…")
    """

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str = "https://api.twilio.com"):
        self.client = Client(account_sid, auth_token)
        self.client.api.base_url = base_url.rstrip("/")

    def delete_recording(self, recording_sid: str) -> bool:
        """Delete Twilio's copy; True when it is gone (deleted now, or already: 404), False when Twilio refused."""
        try:
            self.client.api.account.recordings(recording_sid).delete()
            return True
        except TwilioRestException as exc:
            if exc.status == 404:
                return True
            log.warning("RECORDING_TWILIO_DELETE_FAILED recording_sid=%s status=%s", recording_sid, exc.status)
            return False
        except (TwilioException, OSError) as exc:  # unreachable, timed out: tried again at the next cleanup
            log.warning("RECORDING_TWILIO_DELETE_FAILED recording_sid=%s error=%s", recording_sid,
                        type(exc).__name__)
            return False


def from_settings(settings) -> TwilioApi:
    """TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN at TWILIO_API_BASE_URL."""
    return TwilioApi(settings.twilio_account_sid, settings.twilio_auth_token, base_url=settings.twilio_api_base_url)
