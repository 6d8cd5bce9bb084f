"""The scheduler role: periodiq's cron specs, each tick enqueued exactly once across schedulers.

Ticks are de-duplicated in Redis per actor and tick time (SET NX with a TTL far longer than a
tick), so two schedulers (HA) or a restart inside the same minute never enqueue a tick twice,
and no lock can expire mid-cycle. A Redis outage does not end the process: a tick that could not
be enqueued is retried until its minute is over, then counted as missed, and the loop goes on.
Cron specs are read in SCHEDULER_TIMEZONE (default UTC); prosaas/tick_times.py decides the ticks
of a daylight-saving night.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from enum import StrEnum
from typing import Callable, Optional

import pendulum

from prosaas.tick_times import due_ticks

log = logging.getLogger("prosaas.scheduler")
TICK_KEY_TTL_SECONDS = 3 * 24 * 3600
RETRY_FAILED_TICK_SECONDS = 5.0
CLOCK_ANCHOR = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
# Counts a tick as missed once cluster-wide, unless another scheduler fired it (its claim is not ours).
_COUNT_MISSED_ONCE = """
local owner = redis.call('get', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
if redis.call('set', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then redis.call('incr', KEYS[3]) return 1 end
return 0
"""
# Deletes the de-duplication key only if this scheduler set it (so a failed send can be fired again).
_RELEASE_OWN_CLAIM = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class TickOutcome(StrEnum):
    FIRED = "fired"          # this scheduler enqueued the tick
    DUPLICATE = "duplicate"  # another scheduler (or an earlier pass) already did
    FAILED = "failed"        # the send failed; retried until the minute is over


def periodic_actors(broker) -> list:
    return sorted((a for a in broker.actors.values() if "periodic" in a.options), key=lambda a: a.actor_name)


def accelerated_clock(seconds_per_minute: float) -> Callable[[], dt.datetime]:
    """A clock whose minutes last `seconds_per_minute` real seconds (SCHEDULER_TICK_SECONDS, tests only).

    Every process computes the same time from the wall clock, so several schedulers agree on ticks.
    """
    factor = 60.0 / seconds_per_minute

    def now() -> dt.datetime:
        real = dt.datetime.now(dt.timezone.utc)
        return CLOCK_ANCHOR + (real - CLOCK_ANCHOR) * factor
    return now


def _minute(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)


class TickScheduler:
    """Fires every periodic actor whose cron spec matches the current minute, once per tick cluster-wide.

    Parameters:
      broker: the Dramatiq broker whose periodic actors are fired (messages go through broker.enqueue);
      client/keys: Redis for de-duplication and status;
      now: injectable clock returning an aware datetime (tests drive ticks without waiting minutes);
      seconds_per_minute: real seconds one clock minute lasts (60 unless the clock is accelerated);
      zone: the time zone cron specs are read in (SCHEDULER_TIMEZONE; default UTC).

    >>> scheduler = TickScheduler(broker, runtime.redis, runtime.keys)
    >>> scheduler.tick(dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.timezone.utc))
    ['reminders_cleanup', 'reminders_tick', 'whatsapp_sessions_cleanup']
    """

    def __init__(self, broker, client, keys, *, now: Optional[Callable[[], dt.datetime]] = None,
                 seconds_per_minute: float = 60.0, zone: dt.tzinfo = dt.timezone.utc):
        self.broker = broker
        self.zone = zone
        self.client = client
        self.keys = keys
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.seconds_per_minute = seconds_per_minute
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.started_at = time.time()
        self.fired = 0
        self.missed = 0                     # ticks this instance gave up on (all time)
        self._missed_unreported: list[tuple[str, dt.datetime]] = []  # ... not yet checked against Redis
        self._failed: dict[tuple[str, dt.datetime], int] = {}  # (actor, tick) -> attempts, retried this minute
        self._last_minute: Optional[dt.datetime] = None
        self.stop_event = threading.Event()

    def actors(self) -> list:
        return periodic_actors(self.broker)

    # --- one tick ------------------------------------------------------------------------------
    def tick(self, at: Optional[dt.datetime] = None) -> list[str]:
        """Handle one minute tick; returns the actors this instance enqueued (failures retried by `step`)."""
        at = _minute(at or self.now())
        fired = []
        for actor in self.actors():
            for tick in due_ticks(actor.options["periodic"], at, self.zone):
                if self._fire(actor, at, tick) is TickOutcome.FIRED:
                    fired.append(actor.actor_name)
        return fired

    def _fire(self, actor, at: dt.datetime, tick: dt.datetime) -> TickOutcome:
        """Enqueue `actor`'s `tick` (its local time) once cluster-wide, in the real minute `at`."""
        tick_str = tick.isoformat()
        key = self.keys("tick", actor.actor_name, tick_str)
        try:
            if not self.client.set(key, self.instance_id, nx=True, ex=TICK_KEY_TTL_SECONDS) \
                    and not self._owns_unsent_claim(actor.actor_name, at, key):
                log.debug("TICK_ALREADY_FIRED actor=%s tick=%s", actor.actor_name, tick_str)
                self._failed.pop((actor.actor_name, at), None)
                return TickOutcome.DUPLICATE
            try:
                self.broker.enqueue(actor.message_with_options(scheduled_at=tick_str))
            except Exception:
                self._release(key)
                raise
        except Exception as exc:
            attempts = self._failed.get((actor.actor_name, at), 0) + 1
            self._failed[(actor.actor_name, at)] = attempts
            log.error("TICK_SEND_FAILED actor=%s tick=%s attempt=%d error=%s", actor.actor_name, tick_str,
                      attempts, type(exc).__name__)
            return TickOutcome.FAILED
        self._failed.pop((actor.actor_name, at), None)
        self.fired += 1
        log.info("TICK_FIRED actor=%s tick=%s scheduler=%s", actor.actor_name, tick_str, self.instance_id)
        self._record_tick(actor, tick)
        return TickOutcome.FIRED

    def _owns_unsent_claim(self, actor_name: str, at: dt.datetime, key: str) -> bool:
        """Our earlier attempt claimed this tick but failed before (or while) enqueueing, and the claim could
        not be released (Redis went away): it is still ours to send."""
        if (actor_name, at) not in self._failed:
            return False
        owner = self.client.get(key)
        if isinstance(owner, bytes):
            owner = owner.decode()
        return owner == self.instance_id

    def _release(self, key: str) -> None:
        try:
            self.client.eval(_RELEASE_OWN_CLAIM, 1, key, self.instance_id)
        except Exception:
            pass  # Redis is down: the claim stays ours; retried this minute, else counted as missed

    def _record_tick(self, actor, at: dt.datetime) -> None:
        spec = actor.options["periodic"]
        try:
            self.client.hset(self.keys("scheduler", "ticks"), actor.actor_name, json.dumps(
                {"last_tick": at.isoformat(),
                 "next_tick": spec.next_valid_date(pendulum.instance(at.astimezone(self.zone))).isoformat(),
                 "spec": str(spec), "fired_by": self.instance_id}))
        except Exception as exc:
            log.warning("TICK_STATUS_FAILED actor=%s error=%s", actor.actor_name, type(exc).__name__)

    def _count_missed(self, actor_name: str, at: dt.datetime, why: str) -> None:
        self.missed += 1
        self._missed_unreported.append((actor_name, at))
        log.error("TICK_MISSED actor=%s tick=%s why=%s", actor_name, at.isoformat(), why)

    def _report_missed(self) -> None:
        """Add this instance's missed ticks to the cluster's counter, each tick once and only if no other
        scheduler fired it (HA: one scheduler cut off from Redis does not mean the tick was lost)."""
        while self._missed_unreported:
            actor_name, at = self._missed_unreported[0]
            try:
                tick_str = at.astimezone(self.zone).isoformat()
                self.client.eval(_COUNT_MISSED_ONCE, 3, self.keys("tick", actor_name, tick_str),
                                 self.keys("tick-missed", actor_name, tick_str),
                                 self.keys("scheduler", "missed_ticks"), self.instance_id, TICK_KEY_TTL_SECONDS)
            except Exception:
                return  # kept in memory while Redis is down, written when it is back
            self._missed_unreported.pop(0)

    # --- the loop ------------------------------------------------------------------------------
    def step(self, now: Optional[dt.datetime] = None) -> list[str]:
        """One pass of the loop: fire the current minute once, retry its failures, count what was missed."""
        current = _minute(now or self.now())
        fired = []
        if self._last_minute is None or current > self._last_minute:
            if self._last_minute is not None:
                self._count_skipped_minutes(self._last_minute, current)
            for (actor_name, at) in [k for k in self._failed if k[1] < current]:
                del self._failed[(actor_name, at)]
                self._count_missed(actor_name, at, "broker_unreachable")
            self._last_minute = current
            fired += self.tick(current)
        elif self._failed:
            by_name = {a.actor_name: a for a in self.actors()}
            for actor_name, at in list(self._failed):
                if at == current and actor_name in by_name:
                    for tick in due_ticks(by_name[actor_name].options["periodic"], at, self.zone):
                        if self._fire(by_name[actor_name], at, tick) is TickOutcome.FIRED:
                            fired.append(actor_name)
        self._report_missed()
        return fired

    def _count_skipped_minutes(self, last: dt.datetime, current: dt.datetime) -> None:
        """Minutes the loop never saw (the process stalled): their ticks are missed, not fired late."""
        minute = last + dt.timedelta(minutes=1)
        while minute < current:
            for actor in self.actors():
                if due_ticks(actor.options["periodic"], minute, self.zone):
                    self._count_missed(actor.actor_name, minute, "scheduler_stalled")
            minute += dt.timedelta(minutes=1)

    def seconds_until_next_step(self) -> float:
        now = self.now()
        clock_seconds_left = 60 - (now.second + now.microsecond / 1e6)
        wait = clock_seconds_left * self.seconds_per_minute / 60 + 0.01
        if self._failed:
            wait = min(wait, RETRY_FAILED_TICK_SECONDS)
        return max(0.01, min(wait, 10.0))

    def announce(self) -> None:
        actors = self.actors()
        info = {"id": self.instance_id, "host": socket.gethostname(), "pid": os.getpid(),
                "started_at": self.started_at, "last_seen": time.time(), "fired": self.fired,
                "missed": self.missed, "seconds_per_minute": self.seconds_per_minute,
                "last_minute": self._last_minute.isoformat() if self._last_minute else None,
                "actors": [a.actor_name for a in actors],
                "schedule": {a.actor_name: str(a.options["periodic"]) for a in actors}}
        try:
            self.client.hset(self.keys("schedulers"), self.instance_id, json.dumps(info))
        except Exception as exc:
            log.warning("SCHEDULER_HEARTBEAT_FAILED error=%s", type(exc).__name__)

    def run_forever(self) -> None:
        log.info("SCHEDULER_STARTED scheduler=%s actors=%s", self.instance_id,
                 ",".join(f"{a.actor_name}@{a.options['periodic']}" for a in self.actors()) or "none")
        while not self.stop_event.is_set():
            try:
                self.announce()
                self.step()
            except Exception:  # never let one bad pass end the scheduler
                log.exception("SCHEDULER_STEP_FAILED scheduler=%s", self.instance_id)
            self.stop_event.wait(self.seconds_until_next_step())
        try:
            self.client.hdel(self.keys("schedulers"), self.instance_id)
        except Exception:
            pass
        log.info("SCHEDULER_STOPPED scheduler=%s fired=%d missed=%d", self.instance_id, self.fired, self.missed)
