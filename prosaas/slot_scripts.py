"""Redis Lua scripts behind per-business slots and their waiting lists (see middleware/slots.py).

Every script works on the same three keys of one (actor, business):
  KEYS[1] slots        sorted set: message id -> lease expiry (ms); a member holds a slot
  KEYS[2] waiting      list of "<message id> <redis message id> <queue>", next first
  KEYS[3] waiting.msgs hash: redis message id -> encoded message (the only copy while it waits)
and on Dramatiq's queue list `<namespace>:<queue>` and hash `<namespace>:<queue>.msgs` (names built here,
as Dramatiq's own dispatch script does). ARGV[1] now (ms), ARGV[2] queued lease (ms), ARGV[3] limit,
ARGV[4] slots key TTL (ms), ARGV[5] Dramatiq namespace; the script's own arguments follow.

A message that finds every slot taken waits in the business's own list instead of cycling through the
shared queue, and a released slot moves the oldest waiting message into the queue at once, together with
its slot (a "queued" lease, long enough to reach the head of a busy queue). Moving a message is what
Dramatiq's own enqueue does (HSET msgs + RPUSH queue), inside the same script, so nothing is lost between
the two lists; the waiting lists never expire.
"""
from __future__ import annotations

_PRELUDE = """
local now = tonumber(ARGV[1])
local queued_lease = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local key_ttl = tonumber(ARGV[4])
local namespace = ARGV[5]
redis.call('zremrangebyscore', KEYS[1], '-inf', now)

local function admit(message_id, redis_id, queue, data)
  redis.call('zadd', KEYS[1], now + queued_lease, message_id)
  redis.call('pexpire', KEYS[1], key_ttl)
  local queue_key = namespace .. ':' .. queue
  redis.call('hset', queue_key .. '.msgs', redis_id, data)
  redis.call('rpush', queue_key, redis_id)
end

-- front: a message of the priority queue goes ahead of its business's backlog.
local function wait(message_id, redis_id, queue, data, front)
  redis.call('hset', KEYS[3], redis_id, data)
  local entry = message_id .. ' ' .. redis_id .. ' ' .. queue
  if front == '1' then redis.call('lpush', KEYS[2], entry) else redis.call('rpush', KEYS[2], entry) end
end

-- Move waiting messages into the queue while slots are free, oldest first.
local function pump()
  local moved = 0
  while redis.call('zcard', KEYS[1]) < limit do
    local entry = redis.call('lpop', KEYS[2])
    if not entry then break end
    local first = string.find(entry, ' ', 1, true)
    local second = string.find(entry, ' ', first + 1, true)
    local redis_id = string.sub(entry, first + 1, second - 1)
    local data = redis.call('hget', KEYS[3], redis_id)
    redis.call('hdel', KEYS[3], redis_id)
    if data then
      admit(string.sub(entry, 1, first - 1), redis_id, string.sub(entry, second + 1), data)
      moved = moved + 1
    end
  end
  return moved
end
"""

#: At enqueue time. ARGV[6] message id, ARGV[7] redis message id, ARGV[8] queue, ARGV[9] encoded message,
#: ARGV[10] '1' to wait at the front. Returns 1 when the message went into the queue with a slot, 0 when it waits.
ADMIT = _PRELUDE + """
pump()
if redis.call('llen', KEYS[2]) == 0 and redis.call('zcard', KEYS[1]) < limit then
  admit(ARGV[6], ARGV[7], ARGV[8], ARGV[9])
  return 1
end
wait(ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
return 0
"""

#: When a delivery starts. ARGV[6] message id, ARGV[7] run lease (ms).
#: Returns the slots in use with this one (> 0), or minus the slots in use when none is free.
ACQUIRE = _PRELUDE + """
if redis.call('zscore', KEYS[1], ARGV[6]) then
  redis.call('zadd', KEYS[1], now + tonumber(ARGV[7]), ARGV[6])
  return redis.call('zcard', KEYS[1])
end
pump()
local active = redis.call('zcard', KEYS[1])
if active >= limit then return -active end
redis.call('zadd', KEYS[1], now + tonumber(ARGV[7]), ARGV[6])
redis.call('pexpire', KEYS[1], key_ttl)
return active + 1
"""

#: A delivery that found no slot waits. ARGV[6] message id, ARGV[7] new redis message id, ARGV[8] queue,
#: ARGV[9] encoded message, ARGV[10] '1' to wait at the front. A slot freed since ACQUIRE goes to the next
#: waiting message, possibly this one. Returns 1 if this message went straight back into the queue, else 0.
PARK = _PRELUDE + """
wait(ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
pump()
if redis.call('hexists', KEYS[3], ARGV[7]) == 1 then return 0 end
return 1
"""

#: When a delivery ends. ARGV[6] message id. Returns the slots in use after moving waiting messages in.
RELEASE = _PRELUDE + """
redis.call('zrem', KEYS[1], ARGV[6])
pump()
return redis.call('zcard', KEYS[1])
"""

#: Periodic sweep: slots whose lease ran out (a dead worker) let waiting messages in.
#: Returns how many moved.
SWEEP = _PRELUDE + """
return pump()
"""
