"""Is a tracked job's message anywhere in Redis? The one lookup the reconciler asks before it resends.

A Dramatiq message lives in exactly one of these hashes (redis message id -> encoded message) while it
exists (key names: prosaas/redis_protocol.py): its delay queue's, its queue's (ready, or held in some
worker's unacked set, which only names ids of this hash), its dead letters', or our per-business waiting
lists'.
Every move between them copies before it deletes (delay queue -> queue, waiting list -> queue, retry ->
delay queue), so the hashes are read upstream first: a message moving while we read is seen in one of them.
"""
from __future__ import annotations

from typing import Iterable

from prosaas.redis_protocol import Keys, SlotScripts, delay_queue

# KEYS[1]: one hash of encoded Dramatiq messages (redis message id -> JSON).
# ARGV[1]: HSCAN cursor ("0" to start); ARGV[2]: HSCAN COUNT; ARGV[3..]: the job ids looked for.
# Returns {next cursor, job ids whose message is in this slice of the hash...}. One slice per call, so
# Redis is never blocked for a whole backlog; untracked messages (no "job_id") are not even decoded.
FIND_JOB_MESSAGES = """
local wanted = {}
for i = 3, #ARGV do wanted[ARGV[i]] = true end
local reply = redis.call('hscan', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local found = {reply[1]}
local entries = reply[2]
for i = 2, #entries, 2 do
  local data = entries[i]
  if string.find(data, '"job_id"', 1, true) then
    local ok, decoded = pcall(cjson.decode, data)
    if ok and type(decoded) == 'table' and type(decoded['options']) == 'table' then
      local job_id = decoded['options']['job_id']
      if type(job_id) == 'string' and wanted[job_id] then
        table.insert(found, job_id)
        wanted[job_id] = nil
      end
    end
  end
end
return found
"""

SCAN_COUNT = 500


def message_hashes(client, namespace: str, queues: Iterable[str]) -> list[str]:
    """Every hash that can hold a message of these queues, upstream first (see the module docstring)."""
    keys = Keys(namespace)
    waiting = sorted(name + ":msgs" for name, _actor, _business in
                     SlotScripts(client, keys, queued_lease_ms=0, key_ttl_ms=0).waiting_lists())
    queues = list(dict.fromkeys(queues))
    return (waiting + [keys.queue_messages(delay_queue(queue)) for queue in queues]
            + [keys.queue_messages(queue) for queue in queues]
            + [keys.dead_letter_messages(queue) for queue in queues])


def jobs_with_a_message(client, namespace: str, queues: Iterable[str], job_ids: Iterable[str]) -> set[str]:
    """The job ids among `job_ids` that have a message somewhere in Redis (queued, delayed, waiting for a
    slot, held unacknowledged by a worker, or dead-lettered)."""
    wanted = {str(job_id) for job_id in job_ids}
    found: set[str] = set()
    if not wanted:
        return found
    script = client.register_script(FIND_JOB_MESSAGES)
    for key in message_hashes(client, namespace, queues):
        cursor = "0"
        while wanted:
            reply = script(keys=[key], args=[cursor, SCAN_COUNT, *sorted(wanted)])
            cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            for job_id in reply[1:]:
                job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
                found.add(job_id)
                wanted.discard(job_id)
            if cursor == "0":
                break
        if not wanted:
            break
    return found
