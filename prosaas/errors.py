"""Exceptions that decide what the job machinery does with a failure."""


class PermanentError(Exception):
    """Bad input, or a refusal that retrying cannot fix: the job fails at once, no retry."""

    reason = "permanent"


class BadInput(PermanentError):
    reason = "bad_input"


class BrokerUnavailable(Exception):
    """The broker could not take a message; the caller answers 503 and nothing is lost."""
