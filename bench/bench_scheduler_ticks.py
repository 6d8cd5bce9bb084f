"""Claim: with several schedulers (HA), each periodic tick is enqueued exactly once, one scheduler dying
loses no tick, and a Redis outage loses only the ticks of the minutes it lasted (counted as missed).

In-process TickSchedulers on an accelerated clock (a "minute" lasts BENCH_MINUTE_SECONDS real seconds)
against a private valkey; one scheduler is stopped a third of the way, valkey is down for a few minutes
two thirds of the way. Prints: BENCH scheduler_ticks schedulers=.. minutes=.. enqueued=.. duplicates=..
lost_outside_outage=.. outage_minutes=.. missed_counted=..   (goals: duplicates=0, lost_outside_outage=0)
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import result_line  # noqa: E402


def main() -> None:
    import dramatiq
    import redis
    from dramatiq.brokers.redis import RedisBroker
    from periodiq import PeriodiqMiddleware, cron

    from prosaas.redis_protocol import Keys
    from prosaas.scheduler import TickScheduler, accelerated_clock
    from tests.support.private_servers import PrivateValkey

    schedulers_n = int(os.environ.get("BENCH_SCHEDULERS", 4))
    minute_s = float(os.environ.get("BENCH_MINUTE_SECONDS", 0.5))
    minutes = int(os.environ.get("BENCH_MINUTES", 60))
    with PrivateValkey() as valkey:
        client = redis.Redis.from_url(valkey.url, socket_timeout=1, socket_connect_timeout=1)
        broker = RedisBroker(client=client, namespace="bench-sched", middleware=[PeriodiqMiddleware()])
        dramatiq.actor(lambda: None, broker=broker, actor_name="every_minute", periodic=cron("* * * * *"))
        clock = accelerated_clock(minute_s)
        schedulers = [TickScheduler(broker, client, Keys("bench-sched"), now=clock, seconds_per_minute=minute_s)
                      for _ in range(schedulers_n)]
        threads = [threading.Thread(target=s.run_forever, daemon=True) for s in schedulers]
        first = clock().replace(second=0, microsecond=0)
        [t.start() for t in threads]
        time.sleep(minutes * minute_s / 3)
        schedulers[0].stop_event.set()                   # one scheduler goes away
        time.sleep(minutes * minute_s / 3)
        outage_start = clock()
        valkey.stop()
        time.sleep(minute_s * 3.2)
        valkey.start()
        outage_end = clock()
        time.sleep(minutes * minute_s / 3 - minute_s * 3.2)
        last = clock().replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
        for s in schedulers:
            s.stop_event.set()
        [t.join(10) for t in threads]
        client = valkey.client()
        ticks = [json.loads(raw)["options"]["scheduled_at"] for raw in client.hgetall("bench-sched:default.msgs").values()]
        seen = {dt.datetime.fromisoformat(t) for t in ticks}
        expected = []
        minute = first
        while minute <= last:
            expected.append(minute)
            minute += dt.timedelta(minutes=1)
        in_outage = [m for m in expected if outage_start - dt.timedelta(minutes=1) <= m <= outage_end]
        lost = [m for m in expected if m not in seen and m not in in_outage]
        result_line("scheduler_ticks", schedulers=schedulers_n, minutes=len(expected), enqueued=len(ticks),
                    duplicates=len(ticks) - len(seen), lost_outside_outage=len(lost),
                    outage_minutes=len([m for m in in_outage if m not in seen]),
                    missed_counted=int(client.get(Keys("bench-sched")("scheduler", "missed_ticks")) or 0))


if __name__ == "__main__":
    main()
