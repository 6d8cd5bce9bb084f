"""Dramatiq's Redis protocol, and ours beside it: every key, every Lua script with its KEYS/ARGV, in one place.

Written against Dramatiq 2.2 (setup.cfg pins `dramatiq[redis,watch]==2.2.*`). Nothing else in prosaas names
a Dramatiq key, a dispatch argument or a message option of the broker's: it calls this module. The contract
tests (tests/machinery/test_redis_protocol.py) run Dramatiq's own RedisBroker next to ours on a private
valkey and compare what each leaves in Redis, so an upgrade that changes the protocol fails there.

Keys (ns = PROSAAS_REDIS_NAMESPACE; every key of ours lives under `ns:`). Dramatiq's own, as laid out by
its brokers/redis/dispatch.lua:
  ns:<queue>                          list: redis message ids ready to be fetched, next first
  ns:<queue>.msgs                     hash: redis message id -> encoded message (until acked)
  ns:<queue>.DQ, ns:<queue>.DQ.msgs   the same for the queue's delay queue (messages with an `eta`)
  ns:<queue>.XQ                       sorted set: dead-lettered redis message id -> when (ms)
  ns:<queue>.XQ.msgs                  hash: redis message id -> encoded message
  ns:__heartbeats__                   sorted set: broker id -> last heartbeat (ms)
  ns:__acks__.<broker id>.<queue>     set: redis message ids fetched by that broker, not yet acked
Ours (`ns:px:...`; Keys.__call__ names them):
  ns:px:slots:<actor>:<business>         sorted set: message id -> slot lease expiry (ms)
  ns:px:waiting:<actor>:<business>       list: "<message id> <redis message id> <queue>", next first
  ns:px:waiting:<actor>:<business>:msgs  hash: redis message id -> encoded message (its only copy)
  ns:px:redeliveries                     hash: Dramatiq message id -> deliveries to crashed workers (RECOVER
                                         counts; ACK_MANY and a finished job's skip drop the count)
  ns:px:dead_letter_reasons              hash: redis message id -> why it was dead-lettered
  ns:px:results:<queue>:<actor>:<message id>  list: the stored result (Dramatiq's Results middleware)
  ns:px:workers, ns:px:recovery:*        worker registry (middleware/presence.py), recovery locks (worker_maintenance)
  ns:px:schedulers, ns:px:scheduler:*, ns:px:tick:*, ns:px:tick-missed:*   prosaas/scheduler.py
  ns:px:reconciler, ns:px:reconciler:lock   its status and one-at-a-time lock (prosaas/reconciler.py)
  ns:px:dashboard:login-failures:<ip>, ns:px:ratelimit:* (prosaas/rate_limit.py), ns:px:whatsapp:seen:*

Message options owned by the broker: `redis_message_id` (a fresh id per enqueue: a retried message gets a
new one) and `eta` (ms, delayed messages only).

Scripts:
  dispatch (Dramatiq's dispatch.lua, `broker.scripts["dispatch"]`): KEYS[1] namespace; ARGV command,
    now (ms), queue, broker id, heartbeat timeout (ms), dead-letter TTL (ms), do maintenance ("0"/"1"),
    Lua unpack limit, then the command's own: enqueue <redis id> <data> | fetch <n> | ack <redis id> |
    nack <redis id> | requeue <redis id>... | purge | qsize.
  ACK_MANY: Dramatiq's `ack` for many messages of one queue (see its text). RECOVER: requeue the messages
  of dead brokers, dead-letter crash loops, expire dead letters (see its text). The slot scripts: see
  SlotScripts. prosaas/message_presence.py's FIND_JOB_MESSAGES reads one message hash it is given (KEYS[1]).
"""
from __future__ import annotations

import time
from typing import Iterable, Optional
from uuid import uuid4

from redis.exceptions import NoScriptError

DRAMATIQ_SERIES = "2.2."  # the Dramatiq minor version this module spells out
DRAMATIQ_DISPATCH_SHA1 = "fdacc359c79a5adc3b8eeb53ff5772d7c42144e3"  # its dispatch.lua, as read here
DELAY_SUFFIX, DEAD_SUFFIX, MESSAGES_SUFFIX = ".DQ", ".XQ", ".msgs"
BROKER_OPTIONS = ("redis_message_id", "eta")


def now_ms() -> int:
    return int(time.time() * 1000)


class Keys:
    """Names of every Redis key of one install: Dramatiq's (methods) and ours (`keys("slots", ...)`)."""

    def __init__(self, namespace: str):
        self.namespace = namespace

    def __call__(self, *parts: object) -> str:
        return ":".join([self.namespace, "px", *map(str, parts)])

    def queue(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}"

    def queue_messages(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}{MESSAGES_SUFFIX}"

    def dead_letters(self, queue_name: str) -> str:
        return f"{self.namespace}:{canonical_queue(queue_name)}{DEAD_SUFFIX}"

    def dead_letter_messages(self, queue_name: str) -> str:
        return self.dead_letters(queue_name) + MESSAGES_SUFFIX

    @property
    def heartbeats(self) -> str:
        return f"{self.namespace}:__heartbeats__"

    def acks(self, broker_id: str, queue_name: str) -> str:
        return f"{self.namespace}:__acks__.{broker_id}.{queue_name}"

    @property
    def results_namespace(self) -> str:
        """The Results backend's namespace (with use_namespace_prefix_keys, so result keys stay under ns)."""
        return self("results")


# Queues and messages ---------------------------------------------------------------------------------
def delay_queue(queue_name: str) -> str:
    return queue_name if is_delay_queue(queue_name) else queue_name + DELAY_SUFFIX


def is_delay_queue(queue_name: str) -> bool:
    return queue_name.endswith(DELAY_SUFFIX)


def canonical_queue(queue_name: str) -> str:
    """The queue a delay queue belongs to (its dead letters go there, as in dispatch.lua)."""
    return queue_name[:-len(DELAY_SUFFIX)] if is_delay_queue(queue_name) else queue_name


def redis_id(message) -> str:
    return message.options["redis_message_id"]


def prepare_for_enqueue(message, delay: Optional[int] = None, **options):
    """RedisBroker.enqueue's steps before the send: a fresh redis id, and with a delay its queue's delay
    queue and an eta. Extra options (e.g. deferrals) are set on the copy."""
    message = message.copy(options={"redis_message_id": str(uuid4()), **options})
    if delay is not None:
        message = message.copy(queue_name=delay_queue(message.queue_name), options={"eta": now_ms() + delay})
    return message


def without_broker_options(options: dict, *also: str) -> dict:
    return {k: v for k, v in options.items() if k not in BROKER_OPTIONS and k not in also}


# Dramatiq's dispatch script ------------------------------------------------------------------------
def dispatch_args(broker, command: str, queue_name: str, *args, now: Optional[int] = None) -> list:
    """ARGV of Dramatiq's dispatch script, in RedisBroker._dispatch's order (maintenance drawn the same way)."""
    return [command, now if now is not None else now_ms(), queue_name, broker.broker_id, broker.heartbeat_timeout,
            broker.dead_message_ttl, broker._should_do_maintenance(command), broker._max_unpack_size(), *args]


def enqueue_pipelined(broker, sends: list[tuple[str, str, bytes]]) -> list[Optional[BaseException]]:
    """Dramatiq's `enqueue` for many (queue, redis id, data) in one pipelined round trip; an error or None
    per send. Redis that lost the script (restart, SCRIPT FLUSH) is given it again, once."""
    script = broker.scripts["dispatch"]
    errors: list[Optional[BaseException]] = [None] * len(sends)
    pending = list(range(len(sends)))
    for attempt in range(2):
        pipe = broker.client.pipeline(transaction=False)
        now = now_ms()
        for index in pending:
            queue_name, message_id, data = sends[index]
            pipe.execute_command("EVALSHA", script.sha, 1, broker.namespace,
                                 *dispatch_args(broker, "enqueue", queue_name, message_id, data, now=now))
        results = pipe.execute(raise_on_error=False)
        lost = []
        for index, result in zip(pending, results):
            if isinstance(result, NoScriptError):
                lost.append(index)
            elif isinstance(result, Exception):
                errors[index] = result
        if not lost:
            break
        if attempt == 0:
            broker.client.script_load(script.script)
        pending = lost
    else:
        for index in pending:
            errors[index] = NoScriptError("Redis does not keep the dispatch script loaded")
    return errors


def record_heartbeat(pipe, keys: Keys, broker_id: str, at_ms: int) -> None:
    """What every dispatch call does first: a broker busy with long jobs is never taken for dead."""
    pipe.zadd(keys.heartbeats, {broker_id: at_ms})


def record_heartbeat_of_exited(pipe, keys: Keys, broker_id: str) -> None:
    """A broker whose process is known to have exited gets heartbeat 0 (only if it still has one): the next
    recovery sweep (RECOVER) takes it for dead at once instead of after the dead-after window."""
    pipe.zadd(keys.heartbeats, {broker_id: 0}, xx=True)


# Acks, recovery, dead letters, queue depths ------------------------------------------------------------
# KEYS: heartbeats, the broker's acks set of the queue, the queue's .msgs, our crash-redelivery counts.
# ARGV: now (ms), broker id, redis message ids... Dramatiq's `ack` (with its heartbeat) for each id; a
# message acked for good also drops its crash-redelivery count (the hash is empty but after a crash, so
# this reads the message only then). Returns the number of ids.
ACK_MANY = """
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
local counted = redis.call('hlen', KEYS[4]) > 0
for i = 3, #ARGV do
  if redis.call('srem', KEYS[2], ARGV[i]) > 0 then
    if counted then
      local data = redis.call('hget', KEYS[3], ARGV[i])
      local ok, decoded = pcall(cjson.decode, data or '')
      if ok and type(decoded) == 'table' and decoded['message_id'] then
        redis.call('hdel', KEYS[4], decoded['message_id'])
      end
    end
    redis.call('hdel', KEYS[3], ARGV[i])
  end
end
return #ARGV - 2
"""

# KEYS: none (one script serves every queue). ARGV: namespace, queue, now (ms), dead after (ms), max
# redeliveries, dead-letter TTL (ms). For each broker whose heartbeat is older than `dead after`: each message
# it holds goes back to the end of its queue (dispatch.lua's maintenance), or, once delivered to crashed
# brokers more than `max redeliveries` times, into the dead letters with reason crashed_worker (dispatch.lua's
# `nack`). Then dead letters older than the TTL expire (dispatch.lua's maintenance; up to 1,000 per call).
# Returns {messages requeued, encoded messages dead-lettered, dead letters expired}.
RECOVER = """
local ns, queue, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local dead_after, max_redeliveries = tonumber(ARGV[4]), tonumber(ARGV[5])
local dead_letter_ttl = tonumber(ARGV[6])
local canonical = queue
if string.sub(queue, -3) == ".DQ" then canonical = string.sub(queue, 1, -4) end
local heartbeats = ns .. ":__heartbeats__"
local queue_key, messages = ns .. ":" .. queue, ns .. ":" .. queue .. ".msgs"
local xq, xq_messages = ns .. ":" .. canonical .. ".XQ", ns .. ":" .. canonical .. ".XQ.msgs"
local redeliveries, reasons = ns .. ":px:redeliveries", ns .. ":px:dead_letter_reasons"
local requeued, crashed = 0, {}
local dead = redis.call("zrangebyscore", heartbeats, 0, now - dead_after)
for _, worker in ipairs(dead) do
  local acks = ns .. ":__acks__." .. worker .. "." .. queue
  for _, id in ipairs(redis.call("smembers", acks)) do
    local data = redis.call("hget", messages, id)
    if data then
      -- Count by Dramatiq's message id: deferred copies get new Redis ids but keep it.
      local ok, decoded = pcall(cjson.decode, data)
      local counter = (ok and decoded["message_id"]) or id
      local count = redis.call("hincrby", redeliveries, counter, 1)
      if count > max_redeliveries then
        redis.call("zadd", xq, now, id)
        redis.call("hset", xq_messages, id, data)
        redis.call("hdel", messages, id)
        redis.call("hset", reasons, id, "crashed_worker")
        table.insert(crashed, data)
      else
        redis.call("rpush", queue_key, id)
        requeued = requeued + 1
      end
    end
  end
  redis.call("del", acks)
  if next(redis.call("keys", ns .. ":__acks__." .. worker .. ".*")) == nil then
    redis.call("zrem", heartbeats, worker)
  end
end
-- Dramatiq expires dead letters only in its maintenance step, which prosaas turns off.
local expired = redis.call("zrangebyscore", xq, 0, now - dead_letter_ttl, "LIMIT", 0, 1000)
for _, id in ipairs(expired) do
  local data = redis.call("hget", xq_messages, id)
  if data then
    local ok, decoded = pcall(cjson.decode, data)
    if ok and decoded["message_id"] then redis.call("hdel", redeliveries, decoded["message_id"]) end
  end
  redis.call("zrem", xq, id)
  redis.call("hdel", xq_messages, id)
  redis.call("hdel", reasons, id)
end
return {requeued, crashed, #expired}
"""


class Protocol:
    """Our Redis operations on Dramatiq's keys, for one client and namespace."""

    def __init__(self, client, keys: Keys):
        self.client, self.keys = client, keys
        self._ack_many = client.register_script(ACK_MANY)
        self._recover = client.register_script(RECOVER)

    def ack_many(self, broker_id: str, queue_name: str, redis_ids: list[str]) -> None:
        keys = self.keys
        self._ack_many(keys=[keys.heartbeats, keys.acks(broker_id, queue_name), keys.queue_messages(queue_name),
                             keys("redeliveries")], args=[now_ms(), broker_id, *redis_ids])

    def redelivery_counts(self) -> dict[str, int]:
        """Dramatiq message id -> deliveries to crashed workers (RECOVER counts, ACK_MANY prunes): empty but
        after a crash."""
        return {(key.decode() if isinstance(key, bytes) else key): int(count)
                for key, count in self.client.hgetall(self.keys("redeliveries")).items()}

    def recover(self, queue_name: str, *, dead_after_ms: int, max_redeliveries: int,
                dead_letter_ttl_ms: int) -> tuple[int, list[bytes], int]:
        """(messages requeued, encoded messages dead-lettered as crashed_worker, dead letters expired)."""
        requeued, crashed, expired = self._recover(args=[self.keys.namespace, queue_name, now_ms(), dead_after_ms,
                                                         max_redeliveries, dead_letter_ttl_ms])
        return int(requeued), list(crashed), int(expired)

    def queue_depths(self, queues: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per queue: ready (in its list), delayed, held (ready + being processed), dead letters."""
        queues, keys = list(queues), self.keys
        pipe = self.client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(keys.queue(queue))
            pipe.hlen(keys.queue_messages(delay_queue(queue)))
            pipe.hlen(keys.queue_messages(queue))
            pipe.zcard(keys.dead_letters(queue))
        values = pipe.execute()
        return {queue: dict(zip(("ready", "delayed", "held", "dead_letters"), values[i * 4: i * 4 + 4]))
                for i, queue in enumerate(queues)}

    def dead_letter_reasons(self) -> dict[bytes, bytes]:
        return self.client.hgetall(self.keys("dead_letter_reasons"))

    def newest_dead_letters(self, queue_name: str, limit: int, *, after_ms: int = 0) -> list[tuple[bytes, int, bytes]]:
        """(redis id, dead-lettered at ms, encoded message), newest first, dead-lettered after `after_ms`."""
        keys, found = self.keys, []
        for redis_message_id, score in self.client.zrevrangebyscore(keys.dead_letters(queue_name), "+inf",
                                                                    after_ms + 1, start=0, num=limit, withscores=True):
            raw = self.client.hget(keys.dead_letter_messages(queue_name), redis_message_id)
            if raw is not None:
                found.append((redis_message_id, int(score), raw))
        return found

    def dead_letter(self, queue_name: str, redis_message_id) -> Optional[bytes]:
        return self.client.hget(self.keys.dead_letter_messages(queue_name), redis_message_id)

    def scan_dead_letters(self, queue_name: str) -> Iterable[tuple[bytes, bytes]]:
        return self.client.hscan_iter(self.keys.dead_letter_messages(queue_name), count=500)

    def remove_dead_letter(self, queue_name: str, redis_message_id, message_id: str) -> bool:
        """Take one letter out, its crash count too; False if another caller took it first."""
        keys = self.keys
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(keys.dead_letters(queue_name), redis_message_id)
        pipe.hdel(keys.dead_letter_messages(queue_name), redis_message_id)
        pipe.hdel(keys("dead_letter_reasons"), redis_message_id)
        pipe.hdel(keys("redeliveries"), message_id)  # counted by Dramatiq's message id (RECOVER)
        return bool(pipe.execute()[0])

    def purge_dead_letters(self, queues: Iterable[str]) -> int:
        keys, total = self.keys, 0
        for queue in queues:
            total += self.client.zcard(keys.dead_letters(queue))
            self.client.delete(keys.dead_letters(queue), keys.dead_letter_messages(queue))
        self.client.delete(keys("dead_letter_reasons"))
        return total


# Per-business slots and their waiting lists (middleware/slots.py) ---------------------------------------
# Every slot script works on the three keys of one (actor, business): KEYS[1] slots, KEYS[2] waiting,
# KEYS[3] waiting:msgs (see the key list above), and on Dramatiq's `ns:<queue>` and `ns:<queue>.msgs`, named
# here as dispatch.lua names them. ARGV[1] now (ms), ARGV[2] queued lease (ms), ARGV[3] limit, ARGV[4] slots
# key TTL (ms), ARGV[5] namespace; each script's own arguments follow. Moving a message into its queue is
# Dramatiq's `enqueue` (HSET .msgs + RPUSH queue) inside the same script, so nothing is lost between lists.
_SLOT_PRELUDE = """
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

SLOT_SCRIPTS = {
    # ARGV[6] message id, [7] redis id, [8] queue, [9] data, [10] '1' to wait at the front.
    # 1: into the queue with a slot; 0: it waits.
    "admit": _SLOT_PRELUDE + """
pump()
if redis.call('llen', KEYS[2]) == 0 and redis.call('zcard', KEYS[1]) < limit then
  admit(ARGV[6], ARGV[7], ARGV[8], ARGV[9])
  return 1
end
wait(ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
return 0
""",
    # ARGV[6] message id, [7] run lease (ms). Slots in use with this one (> 0), or minus those in use.
    "acquire": _SLOT_PRELUDE + """
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
""",
    # Like admit's arguments, for a delivery that found no slot. 1 if it went straight back into the queue.
    "park": _SLOT_PRELUDE + """
wait(ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
pump()
if redis.call('hexists', KEYS[3], ARGV[7]) == 1 then return 0 end
return 1
""",
    # ARGV[6] message id. Slots in use after moving waiting messages in.
    "release": _SLOT_PRELUDE + """
redis.call('zrem', KEYS[1], ARGV[6])
pump()
return redis.call('zcard', KEYS[1])
""",
    # No own arguments: slots whose lease ran out (a dead worker) let waiting messages in. How many moved.
    "sweep": _SLOT_PRELUDE + """
return pump()
""",
}


class SlotScripts:
    """The slot scripts of one install: `admit` at enqueue, `acquire`/`park`/`release` per delivery, `sweep`."""

    def __init__(self, client, keys: Keys, *, queued_lease_ms: int, key_ttl_ms: int):
        self.client, self.keys = client, keys
        self.queued_lease_ms, self.key_ttl_ms = queued_lease_ms, key_ttl_ms
        self._scripts = {name: client.register_script(source) for name, source in SLOT_SCRIPTS.items()}

    def slots_key(self, actor_name: str, business_id) -> str:
        return self.keys("slots", actor_name, business_id)

    def waiting_key(self, actor_name: str, business_id) -> str:
        return self.keys("waiting", actor_name, business_id)

    def waiting_lists(self) -> list[tuple[str, str, str]]:
        """(key, actor, business) of every waiting list."""
        found = []
        for key in self.client.scan_iter(match=self.keys("waiting", "*"), count=500):
            name = key.decode() if isinstance(key, bytes) else key
            if not name.endswith(":msgs"):
                found.append((name, *name.split(":")[-2:]))
        return found

    def waiting_per_queue(self) -> dict[str, int]:
        """Messages in every waiting list, per the queue each entry names (its last field)."""
        names = [name for name, _actor, _business in self.waiting_lists()]
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.lrange(name, 0, -1)
        counts: dict[str, int] = {}
        for entries in pipe.execute():
            for entry in entries:
                queue_name = (entry.decode() if isinstance(entry, bytes) else entry).rsplit(" ", 1)[-1]
                counts[queue_name] = counts.get(queue_name, 0) + 1
        return counts

    def slot_sets(self) -> list[tuple[str, str]]:
        """(key, actor) of every slots set."""
        return [(name, name.split(":")[-2]) for name in
                (key.decode() if isinstance(key, bytes) else key
                 for key in self.client.scan_iter(match=self.keys("slots", "*"), count=500))]

    def _run(self, script: str, actor_name: str, business_id, limit: int, *extra) -> int:
        waiting = self.waiting_key(actor_name, business_id)
        return int(self._scripts[script](
            keys=[self.slots_key(actor_name, business_id), waiting, waiting + ":msgs"],
            args=[now_ms(), self.queued_lease_ms, limit, self.key_ttl_ms, self.keys.namespace, *extra]))

    def admit(self, message, business_id, limit: int, *, front: bool) -> bool:
        return bool(self._run("admit", message.actor_name, business_id, limit, message.message_id,
                              redis_id(message), message.queue_name, message.encode(), "1" if front else "0"))

    def acquire(self, message, business_id, limit: int, *, lease_ms: int) -> int:
        return self._run("acquire", message.actor_name, business_id, limit, message.message_id, lease_ms)

    def park(self, waiting_message, business_id, limit: int, *, front: bool) -> bool:
        """The delivery waits (as `waiting_message`, a copy with a new redis id); True if it went back into
        the queue at once because a slot was freed meanwhile."""
        return bool(self._run("park", waiting_message.actor_name, business_id, limit, waiting_message.message_id,
                              redis_id(waiting_message), waiting_message.queue_name, waiting_message.encode(),
                              "1" if front else "0"))

    def release(self, actor_name: str, business_id, limit: int, message_id: str) -> int:
        return self._run("release", actor_name, business_id, limit, message_id)

    def sweep(self, actor_name: str, business_id, limit: int) -> int:
        return self._run("sweep", actor_name, business_id, limit)
