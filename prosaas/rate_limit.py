"""How many requests may a caller make: a token bucket per caller in Redis, one Lua script per decision.

KEYS[1] the caller's bucket, a hash {tokens, at_ms}; it expires once it would be full again.
ARGV[1] rate (tokens per second, float), ARGV[2] burst (bucket size), ARGV[3] cost (tokens per request).
Returns {allowed (1/0), milliseconds until `cost` tokens are there (0 when allowed)}. The script reads the
clock of the Redis server (TIME), so web hosts with different clocks share one fair bucket.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('time')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('hmget', KEYS[1], 'tokens', 'at_ms')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait_ms = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'at_ms', tostring(now))
redis.call('pexpire', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, wait_ms}
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int  # whole seconds to wait before the next request may pass (0 when allowed)


class TokenBucketLimiter:
    """At most `burst` requests at once per caller, refilled at `rate_per_second`.

    Parameters:
      client: Redis client; keys: our key namer (buckets live under `<namespace>:px:ratelimit:<scope>:<id>`);
      rate_per_second: sustained rate; burst: bucket size.

    >>> limiter = TokenBucketLimiter(client, keys, rate_per_second=20, burst=100)
    >>> limiter.take("api", key_digest).allowed
    True
    """

    def __init__(self, client, keys, *, rate_per_second: float, burst: int):
        self.keys = keys
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self._script = client.register_script(TOKEN_BUCKET)

    def take(self, scope: str, caller: str, cost: int = 1) -> RateDecision:
        allowed, wait_ms = self._script(keys=[self.keys("ratelimit", scope, caller)],
                                        args=[repr(self.rate), self.burst, cost])
        return RateDecision(bool(allowed), 0 if allowed else max(1, math.ceil(int(wait_ms) / 1000)))
