"""Replies to WhatsApp customers and summaries of finished conversations: a small rule-based default,
or an HTTP provider at RESPONDER_URL (POST /reply, POST /summarize, Bearer RESPONDER_API_KEY)."""
from __future__ import annotations

import logging
import re
from typing import Optional, Sequence

import requests

from prosaas.errors import PermanentError

log = logging.getLogger("prosaas.clients.responder")
TIMEOUT_SECONDS = (5, 60)
SUMMARY_MAX_CHARS = 1000


class ResponderUnavailable(Exception):
    """The provider answered 5xx or could not be reached: retry later."""


class ResponderRejected(PermanentError):
    """The provider refused the request (4xx)."""

    reason = "responder_rejected"


# (pattern, reply) tried in order; Hebrew and English, like the businesses we serve.
_RULES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\b(hi|hello|hey)\b|שלום|היי|הי\b", re.I),
     "Hello! Thanks for writing to us. How can we help? / שלום! תודה שפנית אלינו, איך נוכל לעזור?"),
    (re.compile(r"\b(hours?|open|opening)\b|שעות|פתוח", re.I),
     "We are open Sunday to Thursday, 9:00 to 18:00. / אנחנו פתוחים א׳-ה׳, 9:00-18:00."),
    (re.compile(r"\b(price|cost|how much)\b|מחיר|כמה עולה", re.I),
     "A team member will send you our prices shortly. / נציג ישלח לך את המחירים בקרוב."),
    (re.compile(r"\b(thanks|thank you)\b|תודה", re.I),
     "You're welcome! / בשמחה!"),
]
_FALLBACK = "Thanks for your message, we'll get back to you soon. / תודה על ההודעה, נחזור אליך בהקדם."


def rule_based_reply(text: str) -> Optional[str]:
    if not text or not text.strip():
        return None
    for pattern, reply in _RULES:
        if pattern.search(text):
            return reply
    return _FALLBACK


def rule_based_summary(messages: Sequence[dict]) -> str:
    incoming = [m for m in messages if m.get("direction") == "in"]
    outgoing = [m for m in messages if m.get("direction") == "out"]
    first = (incoming[0]["text"] if incoming else "").strip().replace("\n", " ")
    last = (incoming[-1]["text"] if incoming else "").strip().replace("\n", " ")
    parts = [f"{len(incoming)} message(s) from the customer, {len(outgoing)} reply(ies)."]
    if first:
        parts.append(f"First: {first[:200]}")
    if last and len(incoming) > 1:
        parts.append(f"Last: {last[:200]}")
    return " ".join(parts)[:SUMMARY_MAX_CHARS]


class Responder:
    """Replies and summaries from the HTTP provider at `url` (RESPONDER_URL, Bearer `api_key` when set), or
    the rules above when `url` is empty; `timeouts` is (connect, read) seconds.

    >>> Responder("").reply_to(7, "972501234567@s.whatsapp.net", "hello")   # the rule-based greeting
    """

    def __init__(self, url: Optional[str] = "", api_key: str = "", *, timeouts: tuple[float, float] = TIMEOUT_SECONDS):
        self.url = (url or "").rstrip("/")
        self.api_key = api_key
        self.timeouts = timeouts

    def _post(self, path: str, body: dict) -> dict:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = requests.post(f"{self.url}{path}", json=body, headers=headers, timeout=self.timeouts)
        except requests.RequestException as exc:
            raise ResponderUnavailable(f"responder {path}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise ResponderUnavailable(f"responder {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ResponderRejected(f"responder {path}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ResponderUnavailable(f"responder {path}: answer is not JSON") from exc

    def reply_to(self, business_id: int, customer: str, text: str, history: Sequence[dict] = ()) -> Optional[str]:
        """The reply to send to `customer` for `text` (None: send nothing)."""
        if not self.url:
            return rule_based_reply(text)
        answer = self._post("/reply", {"business_id": business_id, "customer": customer, "text": text,
                                       "history": list(history)})
        reply = answer.get("reply")
        return reply if isinstance(reply, str) and reply.strip() else None

    def summarize(self, business_id: int, customer: str, messages: Sequence[dict]) -> str:
        """A short summary of a closed conversation (messages: dicts with direction/text/at)."""
        if not self.url:
            return rule_based_summary(messages)
        answer = self._post("/summarize", {"business_id": business_id, "customer": customer,
                                           "messages": list(messages)})
        summary = answer.get("summary")
        if not isinstance(summary, str):
            raise ResponderUnavailable("responder /summarize: no summary in the answer")
        return summary[:SUMMARY_MAX_CHARS]


def from_settings(settings) -> Responder:
    """The responder configured by RESPONDER_URL and RESPONDER_API_KEY."""
    return Responder(settings.responder_url, settings.responder_api_key)
