"""What to do when a job fails: retry with backoff and jitter, unless retrying cannot help."""
from __future__ import annotations

from dramatiq.common import compute_backoff
from dramatiq.errors import Retry
import redis
from dramatiq.middleware import CurrentMessage, Retries

from prosaas.errors import PermanentError

DEFAULT_MAX_RETRIES = 3
DEFAULT_MIN_BACKOFF_MS = 5_000      # 5 s -> 10 s -> 20 s, each stretched by up to 2x jitter
DEFAULT_MAX_BACKOFF_MS = 3_600_000


def retry_policy() -> str:
    """The default policy as the worker's start line says it: `3x5s,10s,20s+jitter`."""
    delays = ",".join(f"{DEFAULT_MIN_BACKOFF_MS * 2 ** n // 1000}s" for n in range(DEFAULT_MAX_RETRIES))
    return f"{DEFAULT_MAX_RETRIES}x{delays}+jitter"


class ProsaasRetries(Retries):
    """Dramatiq's Retries with our defaults; a :class:`PermanentError` fails the message at once.

    Actor options (besides Dramatiq's ``max_retries``, ``min_backoff``, ``max_backoff``...):
      backoff_jitter(bool): default True (Dramatiq's random stretch of up to 2x, which spreads a
        burst of retries). False retries at exactly min_backoff x 2^retries: 5 -> 10 -> 20 s.

    >>> @dramatiq.actor(max_retries=5, min_backoff=2_000)
    ... def download(business_id): ...
    >>> @dramatiq.actor(max_retries=3, min_backoff=5_000, backoff_jitter=False)
    ... def process_audio_session(business_id, session_id): ...

    Parameters:
      client: the Redis client a permanent failure's reason is written with, for its dead letter
        (prosaas.dead_letters reads it). None (a StubBroker): no reason is recorded.
      keys(prosaas.redis_protocol.Keys): the namespace of that reason's hash.
    """

    def __init__(self, client=None, keys=None):
        super().__init__(max_retries=DEFAULT_MAX_RETRIES, min_backoff=DEFAULT_MIN_BACKOFF_MS,
                         max_backoff=DEFAULT_MAX_BACKOFF_MS)
        self.client, self.keys = client, keys

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if isinstance(exception, PermanentError):
            message.options["retries"] = message.options.get("retries", 0)
            # The dead letter shows the same reason and error as the job row, not "retries_exhausted":
            # Redis dead-letters the message as enqueued, so the reason goes where recovery puts its own.
            if self.client is not None:
                record_dead_letter_reason(self.client, self.keys, message, exception.reason,
                                          describe_error(exception))
            message.fail()
            return
        throws = message.options.get("throws") or broker.get_actor(message.actor_name).options.get("throws")
        if exception is not None and not isinstance(exception, Retry) and not self._jitter(broker, message) \
                and not (throws and isinstance(exception, throws)):
            exception = Retry(delay=self._exact_backoff(broker, message))  # Dramatiq honours a Retry's delay
        super().after_process_message(broker, message, result=result, exception=exception)

    @property
    def actor_options(self):
        return super().actor_options | {"backoff_jitter"}

    @staticmethod
    def _jitter(broker, message) -> bool:
        return broker.get_actor(message.actor_name).options.get("backoff_jitter", True)

    def _exact_backoff(self, broker, message) -> int:
        options = broker.get_actor(message.actor_name).options
        min_backoff = message.options.get("min_backoff", options.get("min_backoff", self.min_backoff))
        max_backoff = message.options.get("max_backoff", options.get("max_backoff", self.max_backoff))
        return compute_backoff(message.options.get("retries", 0), factor=min_backoff, jitter=False,
                               max_backoff=max_backoff)[1]


def is_final_attempt(actor, exception: BaseException, message=None) -> bool:
    """Is this failing attempt the message's last try? The question Retries answers after the actor returns,
    asked from inside it: an actor that keeps its own row's state (a recording, an audio session) records the
    final failure while it still holds the row.

    True when `exception` is permanent or in the actor's ``throws``, when ``retry_when`` says no, or when the
    retries are spent (``max_retries`` of the message, else of the actor, else the broker's Retries default);
    also when the actor's broker retries nothing. `message` defaults to the one being processed (CurrentMessage).

    >>> except Exception as exc:
    ...     final = is_final_attempt(download_recording, exc)
    """
    retries_middleware = next((m for m in actor.broker.middleware if isinstance(m, Retries)), None)
    if retries_middleware is None or isinstance(exception, PermanentError):
        return True
    message = message if message is not None else CurrentMessage.get_current_message()
    options = message.options if message is not None else {}
    throws = options.get("throws") or actor.options.get("throws")
    if throws and isinstance(exception, throws):
        return True
    retries = options.get("retries", 0)
    retry_when = actor.options.get("retry_when", retries_middleware.retry_when)
    if retry_when is not None:
        return not retry_when(retries, exception)
    max_retries = options.get("max_retries", actor.options.get("max_retries", retries_middleware.max_retries))
    return max_retries is not None and retries >= max_retries


def record_dead_letter_reason(client, keys, message, reason: str, error: str) -> None:
    """`reason` and `error` for the dead letter this message is about to become (read by prosaas.dead_letters)."""
    redis_id = message.options.get("redis_message_id")
    if not redis_id:
        return
    try:
        client.hset(keys("dead_letter_reasons"), redis_id, f"{reason}\n{error}")
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
