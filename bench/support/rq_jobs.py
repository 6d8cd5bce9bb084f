"""The RQ baseline's job function."""


def noop(n: int = 0) -> None:
    return None


def stamp(sent: float = 0.0) -> None:
    """Records when it started, next to when it was sent (enqueue -> start latency)."""
    import os
    import time

    import redis

    redis.Redis.from_url(os.environ["BENCH_STAMPS_REDIS_URL"]).rpush(os.environ["BENCH_STAMPS_KEY"],
                                                                     f"{sent}:{time.time()}")
