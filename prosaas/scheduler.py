"""The scheduler role: periodiq's cron specs, each tick enqueued exactly once across schedulers.

Ticks are de-duplicated in Redis per actor and tick time (SET NX with a TTL far longer than a
tick), so two schedulers (HA) or a restart inside the same minute never enqueue a tick twice,
and no lock can expire mid-cycle. A Redis outage does not end the process: the tick is counted
as missed and the loop goes on.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from typing import Callable, Iterable, Optional

import pendulum

log = logging.getLogger("prosaas.scheduler")
TICK_KEY_TTL_SECONDS = 3 * 24 * 3600


def periodic_actors(broker) -> list:
    return sorted((a for a in broker.actors.values() if "periodic" in a.options), key=lambda a: a.actor_name)


class TickScheduler:
    """Fires every periodic actor whose cron spec matches the current minute, once per tick cluster-wide.

    Parameters:
      broker: the Dramatiq broker; client/keys: Redis for de-duplication and status;
      now: injectable clock returning an aware datetime (tests drive ticks without waiting minutes).
    """

    def __init__(self, broker, client, keys, *, now: Callable[[], dt.datetime] = None):
        self.broker = broker
        self.client = client
        self.keys = keys
        self.now = now or (lambda: pendulum.now("UTC"))
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = time.time()
        self.fired = 0
        self.stop_event = threading.Event()

    def actors(self) -> list:
        return periodic_actors(self.broker)

    def tick(self, at: Optional[dt.datetime] = None) -> list[str]:
        """Handle one minute tick; returns the actors this instance enqueued."""
        at = (at or self.now()).replace(second=0, microsecond=0)
        tick_str = at.isoformat()
        fired = []
        for actor in self.actors():
            spec = actor.options["periodic"]
            if not spec.validate(pendulum.instance(at)):
                continue
            try:
                first = self.client.set(self.keys("tick", actor.actor_name, tick_str), self.instance_id,
                                        nx=True, ex=TICK_KEY_TTL_SECONDS)
                if not first:
                    log.debug("TICK_ALREADY_FIRED actor=%s tick=%s", actor.actor_name, tick_str)
                    continue
                actor.send_with_options(scheduled_at=tick_str)
                nxt = spec.next_valid_date(pendulum.instance(at))
                self.client.hset(self.keys("scheduler", "ticks"), actor.actor_name, json.dumps(
                    {"last_tick": tick_str, "next_tick": str(nxt), "spec": str(spec), "fired_by": self.instance_id}))
                fired.append(actor.actor_name)
                self.fired += 1
                log.info("TICK_FIRED actor=%s tick=%s scheduler=%s", actor.actor_name, tick_str, self.instance_id)
            except Exception as exc:
                log.error("TICK_MISSED actor=%s tick=%s error=%s", actor.actor_name, tick_str, type(exc).__name__)
                self._count_missed()
        return fired

    def _count_missed(self) -> None:
        # Kept in memory while Redis is down and written when it is back.
        self._missed_pending = getattr(self, "_missed_pending", 0) + 1
        try:
            self.client.incrby(self.keys("scheduler", "missed_ticks"), self._missed_pending)
            self._missed_pending = 0
        except Exception:
            pass

    def announce(self) -> None:
        info = {"id": self.instance_id, "host": socket.gethostname(), "pid": os.getpid(),
                "started_at": self.started_at, "last_seen": time.time(), "fired": self.fired,
                "actors": [a.actor_name for a in self.actors()],
                "schedule": {a.actor_name: str(a.options["periodic"]) for a in self.actors()}}
        try:
            self.client.hset(self.keys("schedulers"), self.instance_id, json.dumps(info))
            if getattr(self, "_missed_pending", 0):
                self._count_missed()
        except Exception as exc:
            log.warning("SCHEDULER_HEARTBEAT_FAILED error=%s", type(exc).__name__)

    def run_forever(self) -> None:
        log.info("SCHEDULER_STARTED scheduler=%s actors=%s", self.instance_id,
                 ",".join(f"{a.actor_name}@{a.options['periodic']}" for a in self.actors()) or "none")
        last_minute = None
        while not self.stop_event.is_set():
            self.announce()
            current = self.now().replace(second=0, microsecond=0)
            if current != last_minute:
                self.tick(current)
                last_minute = current
            seconds = self.now().second + self.now().microsecond / 1e6
            self.stop_event.wait(min(10.0, max(0.2, 60 - seconds + 0.05)))
        try:
            self.client.hdel(self.keys("schedulers"), self.instance_id)
        except Exception:
            pass
        log.info("SCHEDULER_STOPPED scheduler=%s fired=%d", self.instance_id, self.fired)


def run_scheduler() -> None:
    import signal

    import actors  # noqa: F401
    from prosaas.broker import broker
    from prosaas.runtime import get_runtime

    runtime = get_runtime()
    scheduler = TickScheduler(broker, runtime.redis, runtime.keys)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: scheduler.stop_event.set())
    scheduler.run_forever()


