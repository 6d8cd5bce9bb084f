"""Crash recovery on a timer: requeue messages held by dead worker processes, dead-letter crash loops,
expire dead letters older than DEAD_LETTER_TTL_SECONDS.

Dramatiq's Redis broker does this only on a random 0.1 % of commands (dramatiq #527) and never
counts redeliveries (#213); this runs every few seconds from every worker and counts them.
"""
from __future__ import annotations

import json
import logging
import time

log = logging.getLogger("prosaas.recovery")

# KEYS: none (names are built from ARGV so one script serves every queue).
# ARGV: namespace, queue_name, now_ms, dead_after_ms, max_redeliveries, dead_letter_ttl_ms
# Returns {requeued count, crashed messages dead-lettered, dead letters expired}.
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


class Recovery:
    """Runs the recovery script over every queue (and its delay queue)."""

    def __init__(self, client, namespace: str, queues, *, dead_after_seconds: int, max_redeliveries: int,
                 dead_letter_ttl_seconds: int = 86400):
        self.client = client
        self.namespace = namespace
        self.queues = list(queues)
        self.dead_after_ms = dead_after_seconds * 1000
        self.max_redeliveries = max_redeliveries
        self.dead_letter_ttl_ms = dead_letter_ttl_seconds * 1000
        self._script = client.register_script(RECOVER)

    def run_once(self) -> tuple[int, list[dict]]:
        """Returns (messages requeued, decoded messages dead-lettered as crashed_worker)."""
        requeued_total, crashed_messages = 0, []
        now = int(time.time() * 1000)
        for queue in self.queues:
            for name in (queue, f"{queue}.DQ"):
                requeued, crashed, expired = self._script(args=[self.namespace, name, now, self.dead_after_ms,
                                                                self.max_redeliveries, self.dead_letter_ttl_ms])
                if expired:
                    log.info("DEAD_LETTERS_EXPIRED queue=%s count=%d", name, expired)
                requeued_total += int(requeued)
                for data in crashed:
                    try:
                        crashed_messages.append(json.loads(data))
                    except ValueError:
                        log.warning("RECOVERY_UNDECODABLE queue=%s", name)
                if requeued:
                    log.warning("JOB_REDELIVERED queue=%s count=%d reason=dead_worker", name, requeued)
        for message in crashed_messages:
            log.error("JOB_FAILED actor=%s job_id=%s message_id=%s reason=crashed_worker",
                      message.get("actor_name"), message.get("options", {}).get("job_id", "-"),
                      message.get("message_id"))
        return requeued_total, crashed_messages
