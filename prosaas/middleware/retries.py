"""What to do when a job fails: retry with backoff and jitter, unless retrying cannot help."""
from __future__ import annotations

import redis
from dramatiq.middleware import Retries

from prosaas.errors import PermanentError

DEFAULT_MAX_RETRIES = 3
DEFAULT_MIN_BACKOFF_MS = 5_000      # 5 s -> 10 s -> 20 s, each stretched by up to 2x jitter
DEFAULT_MAX_BACKOFF_MS = 3_600_000


class ProsaasRetries(Retries):
    """Dramatiq's Retries with our defaults; a :class:`PermanentError` fails the message at once.

    >>> @dramatiq.actor(max_retries=5, min_backoff=2_000)
    ... def download(business_id): ...
    """

    def __init__(self):
        super().__init__(max_retries=DEFAULT_MAX_RETRIES, min_backoff=DEFAULT_MIN_BACKOFF_MS,
                         max_backoff=DEFAULT_MAX_BACKOFF_MS)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if isinstance(exception, PermanentError):
            message.options["retries"] = message.options.get("retries", 0)
            # The dead letter shows the same reason and error as the job row, not "retries_exhausted":
            # Redis dead-letters the message as enqueued, so the reason goes where recovery puts its own.
            record_dead_letter_reason(message, exception.reason, describe_error(exception))
            message.fail()
            return
        super().after_process_message(broker, message, result=result, exception=exception)


def record_dead_letter_reason(message, reason: str, error: str) -> None:
    """`reason` and `error` for the dead letter this message is about to become (read by prosaas.dead_letters)."""
    from prosaas.runtime import get_runtime

    redis_id = message.options.get("redis_message_id")
    if not redis_id:
        return
    runtime = get_runtime()
    try:
        runtime.redis.hset(runtime.keys("dead_letter_reasons"), redis_id, f"{reason}\n{error}")
    except redis.RedisError:  # the nack that follows needs Redis too; the job row keeps the reason anyway
        pass


def failure_reason(exception: BaseException) -> str:
    """A short, stable name for why an attempt failed (shown on the job and in logs)."""
    from dramatiq.middleware import TimeLimitExceeded

    if isinstance(exception, TimeLimitExceeded):
        return "time_limit"
    if isinstance(exception, PermanentError):
        return exception.reason
    return type(exception).__name__


def describe_error(exception: BaseException) -> str:
    text = str(exception) or type(exception).__name__
    cause = exception.__cause__ or exception.__context__
    if cause is not None and cause is not exception:
        text += f" (caused by {type(cause).__name__}: {cause})"
    return f"{type(exception).__name__}: {text}"[:2000]
