"""Exceptions that decide what the job machinery does with a failure, and what a tenant may see of one."""
from __future__ import annotations

import re
from typing import Optional

# A stored error reads "ClassName: detail" (prosaas.middleware.retries.describe_error).
_ERROR_CLASS = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?::|$)")


class PermanentError(Exception):
    """Bad input, or a refusal that retrying cannot fix: the job fails at once, no retry."""

    reason = "permanent"


class BadInput(PermanentError):
    reason = "bad_input"


class BrokerUnavailable(Exception):
    """The broker could not take a message; the caller answers 503 and nothing is lost."""


def error_class(error: Optional[str]) -> Optional[str]:
    """The class name of a stored error text: all a tenant sees of it (the text may quote hosts, ports, URLs).

    >>> error_class("ConnectionError: HTTPConnectionPool(host='10.0.0.5', port=6379)")
    'ConnectionError'
    """
    if not error:
        return None
    match = _ERROR_CLASS.match(error.strip())
    return match.group(1).rsplit(".", 1)[-1] if match else "Error"
