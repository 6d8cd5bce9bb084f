"""Per-API-key request rate: API_RATE_PER_KEY requests a second, bursts up to API_RATE_BURST, else 429."""
from __future__ import annotations

import logging

import falcon
import redis

from db.businesses import hash_api_key
from prosaas.rate_limit import TokenBucketLimiter
from web.auth import bearer_token

log = logging.getLogger("prosaas.web.rate_limit")


class ApiRateLimitMiddleware:
    """Counts every request a business key makes (after AuthMiddleware identified it) in a Redis token bucket.

    Keyed by the key's SHA-256 (the key itself never reaches Redis); operators (ADMIN_TOKEN) are not counted.
    When Redis cannot be asked, the request passes: the limit protects capacity, it does not authorise.
    """

    def __init__(self, runtime):
        settings = runtime.settings
        self.limiter = (TokenBucketLimiter(runtime.redis, runtime.keys, rate_per_second=settings.api_rate_per_key,
                                           burst=settings.api_rate_burst)
                        if settings.api_rate_per_key > 0 else None)

    def process_resource(self, req, resp, resource, params):
        if self.limiter is None or req.context.get("business_id") is None:
            return
        token = bearer_token(req)
        if token is None:
            return
        try:
            decision = self.limiter.take("api", req.context.get("api_key_hash") or hash_api_key(token))
        except redis.RedisError as exc:
            log.warning("API_RATE_UNCHECKED business_id=%s error=%s", req.context.business_id, type(exc).__name__)
            return
        if not decision.allowed:
            log.info("API_RATE_LIMITED business_id=%s retry_after_s=%d", req.context.business_id,
                     decision.retry_after_seconds)
            raise falcon.HTTPTooManyRequests(
                title="Too many requests",
                description=f"This API key may make {self.limiter.rate:g} requests a second (bursts of "
                            f"{self.limiter.burst}); try again in {decision.retry_after_seconds} s.",
                retry_after=decision.retry_after_seconds)
