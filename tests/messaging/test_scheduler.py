"""The scheduler fires each periodic actor once per tick across schedulers, survives Redis outages and
restarts, and the real `prosaas scheduler` processes agree (with a fast test clock)."""
from __future__ import annotations

import datetime as dt
import json
import signal
import threading

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from periodiq import PeriodiqMiddleware, cron

from prosaas.redis_protocol import Keys
from prosaas.scheduler import TickScheduler, accelerated_clock
from tests.support.private_servers import PrivateValkey
from tests.support.processes import start_scheduler, wait_for

UTC = dt.timezone.utc
NAMESPACE = "sched-test"


def _noop():
    pass


@pytest.fixture(scope="module")
def valkey():
    with PrivateValkey() as server:
        yield server


@pytest.fixture
def private(valkey):
    """A broker of its own (private valkey) with three periodic actors, and a Redis client for de-dup."""
    client = redis.Redis.from_url(valkey.url, socket_timeout=1, socket_connect_timeout=1)
    client.flushall()
    broker = RedisBroker(client=client, namespace=NAMESPACE, middleware=[PeriodiqMiddleware(skip_delay=60)])
    for name, spec in [("every_minute", "* * * * *"), ("every_five", "*/5 * * * *"), ("at_three", "0 3 * * *")]:
        dramatiq.actor(_noop, broker=broker, actor_name=name, queue_name="default", periodic=cron(spec))

    class Private:
        pass
    env = Private()
    env.broker, env.client, env.keys, env.server = broker, client, Keys(NAMESPACE), valkey
    yield env
    if not valkey.is_up():
        valkey.start()


def enqueued(client, namespace=NAMESPACE, queues=("default",)) -> list[tuple[str, str]]:
    """(actor, scheduled_at) of every message waiting in the queues."""
    out = []
    for queue in queues:
        for raw in client.hgetall(f"{namespace}:{queue}.msgs").values():
            message = json.loads(raw)
            out.append((message["actor_name"], message["options"].get("scheduled_at")))
    return sorted(out)


class Clock:
    def __init__(self, start: dt.datetime):
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at


def test_two_schedulers_over_several_ticks_enqueue_each_tick_once(private):
    clock = Clock(dt.datetime(2026, 11, 24, 2, 58, 5, tzinfo=UTC))
    a = TickScheduler(private.broker, private.client, private.keys, now=clock)
    b = TickScheduler(private.broker, private.client, private.keys, now=clock)
    fired = {"a": [], "b": []}
    for minute in range(8):  # 02:58 .. 03:05, both schedulers step several times per minute
        for second in (5, 20, 50):
            clock.at = dt.datetime(2026, 11, 24, 2, 58, second, tzinfo=UTC) + dt.timedelta(minutes=minute)
            fired["a"] += a.step()
            fired["b"] += b.step()
    ticks = enqueued(private.client)
    assert len(ticks) == len(set(ticks)), "a tick was enqueued twice"
    every_minute = [t for actor, t in ticks if actor == "every_minute"]
    assert len(every_minute) == 8
    assert [t for actor, t in ticks if actor == "every_five"] == ["2026-11-24T03:00:00+00:00",
                                                                 "2026-11-24T03:05:00+00:00"]
    assert [t for actor, t in ticks if actor == "at_three"] == ["2026-11-24T03:00:00+00:00"]
    assert len(fired["a"]) + len(fired["b"]) == len(ticks) == 11
    status = json.loads(private.client.hget(private.keys("scheduler", "ticks"), "every_five"))
    assert status["last_tick"] == "2026-11-24T03:05:00+00:00"
    assert status["next_tick"].startswith("2026-11-24T03:10:00")


def test_concurrent_schedulers_in_threads_fire_once(private):
    at = dt.datetime(2026, 11, 24, 3, 0, 1, tzinfo=UTC)
    schedulers = [TickScheduler(private.broker, private.client, private.keys, now=lambda: at) for _ in range(4)]
    barrier = threading.Barrier(len(schedulers))

    def run(s):
        barrier.wait()
        s.step()
    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    [t.start() for t in threads]
    [t.join(10) for t in threads]
    assert enqueued(private.client) == [("at_three", "2026-11-24T03:00:00+00:00"),
                                        ("every_five", "2026-11-24T03:00:00+00:00"),
                                        ("every_minute", "2026-11-24T03:00:00+00:00")]


def test_restart_inside_the_minute_does_not_fire_again(private):
    first = TickScheduler(private.broker, private.client, private.keys,
                          now=lambda: dt.datetime(2026, 11, 24, 10, 7, 2, tzinfo=UTC))
    assert first.step() == ["every_minute"]
    # periodiq fires at start-up when the minute matches; our restarted scheduler must not.
    restarted = TickScheduler(private.broker, private.client, private.keys,
                              now=lambda: dt.datetime(2026, 11, 24, 10, 7, 40, tzinfo=UTC))
    assert restarted.step() == []
    assert enqueued(private.client) == [("every_minute", "2026-11-24T10:07:00+00:00")]


def test_redis_outage_keeps_the_scheduler_going_and_counts_missed_ticks(private):
    clock = Clock(dt.datetime(2026, 11, 24, 11, 0, 2, tzinfo=UTC))
    scheduler = TickScheduler(private.broker, private.client, private.keys, now=clock)
    private.server.stop()
    assert scheduler.step() == []                      # 11:00 fails: no exception
    clock.at = clock.at.replace(second=30)
    assert scheduler.step() == []                      # retried within the minute, still down
    clock.at = dt.datetime(2026, 11, 24, 11, 1, 2, tzinfo=UTC)
    assert scheduler.step() == []                      # 11:00 given up: missed; 11:01 fails too
    assert scheduler.missed == 2                       # every_minute and every_five at 11:00
    private.server.start()
    clock.at = clock.at.replace(second=20)
    assert scheduler.step() == ["every_minute"]        # 11:01 retried within its minute once Redis is back
    assert int(private.client.get(private.keys("scheduler", "missed_ticks"))) == 2
    clock.at = dt.datetime(2026, 11, 24, 11, 2, 1, tzinfo=UTC)
    assert scheduler.step() == ["every_minute"]
    assert enqueued(private.client) == [("every_minute", "2026-11-24T11:01:00+00:00"),
                                        ("every_minute", "2026-11-24T11:02:00+00:00")]


def test_missed_ticks_are_counted_once_cluster_wide_and_not_when_another_scheduler_fired(private):
    clock = Clock(dt.datetime(2026, 11, 24, 14, 0, 2, tzinfo=UTC))
    a = TickScheduler(private.broker, private.client, private.keys, now=clock)
    b = TickScheduler(private.broker, private.client, private.keys, now=clock)
    private.server.stop()
    a.step()
    b.step()                                           # both fail at 14:00
    private.server.start()
    clock.at = dt.datetime(2026, 11, 24, 14, 1, 2, tzinfo=UTC)
    a.step()
    b.step()
    assert a.missed == b.missed == 2                   # each saw every_minute and every_five fail at 14:00...
    assert int(private.client.get(private.keys("scheduler", "missed_ticks"))) == 2  # ...the cluster lost 2
    # A is cut off at 14:02 but B fires it later within the minute: nothing was lost.
    private.server.stop()
    clock.at = dt.datetime(2026, 11, 24, 14, 2, 1, tzinfo=UTC)
    a.step()
    private.server.start()
    clock.at = dt.datetime(2026, 11, 24, 14, 2, 30, tzinfo=UTC)
    assert b.step() == ["every_minute"]                # B fires 14:02; A does not step again this minute
    clock.at = dt.datetime(2026, 11, 24, 14, 3, 1, tzinfo=UTC)
    a.step()
    b.step()
    assert a.missed == 3                               # A could not send 14:02 itself...
    assert int(private.client.get(private.keys("scheduler", "missed_ticks"))) == 2  # ...but B did
    ticks = enqueued(private.client)
    assert ("every_minute", "2026-11-24T14:02:00+00:00") in ticks and len(ticks) == len(set(ticks))


def test_a_stalled_loop_counts_the_minutes_it_never_saw(private):
    clock = Clock(dt.datetime(2026, 11, 24, 12, 0, 1, tzinfo=UTC))
    scheduler = TickScheduler(private.broker, private.client, private.keys, now=clock)
    scheduler.step()
    clock.at = dt.datetime(2026, 11, 24, 12, 4, 1, tzinfo=UTC)   # 12:01-12:03 never seen
    assert scheduler.step() == ["every_minute"]
    assert scheduler.missed == 3
    assert int(private.client.get(private.keys("scheduler", "missed_ticks"))) == 3


def test_the_fast_test_clock_is_the_same_in_every_process():
    clock = accelerated_clock(2)
    earlier, later = clock(), clock()
    assert later >= earlier  # monotonic: every process derives it from the same epoch
    assert earlier.tzinfo is not None


def test_two_real_scheduler_processes_fire_each_tick_once(tmp_logs, runtime, broker, clean_queues, client,
                                                         admin_headers):
    """Two `prosaas scheduler` processes (HA), one killed halfway; minutes last 2 s (SCHEDULER_TICK_SECONDS)."""
    env = {"SCHEDULER_TICK_SECONDS": "2"}
    first = start_scheduler(tmp_logs, env=env, name="scheduler-a")
    second = start_scheduler(tmp_logs, env=env, name="scheduler-b")
    try:
        queues = ("default", "low", "maintenance")

        def ticks():
            return [t for a, t in enqueued(runtime.redis, runtime.settings.redis_namespace, queues)
                    if a == "reminders_tick"]
        wait_for(lambda: len(ticks()) >= 4, 30, what="4 minute ticks from two schedulers")
        first.signal(signal.SIGKILL)                  # the other one keeps every tick
        first.process.wait(10)
        seen = len(ticks())
        wait_for(lambda: len(ticks()) >= seen + 3, 30, what="3 more ticks from the surviving scheduler")
        health = client.simulate_get("/api/jobs/health", headers=admin_headers)
        assert health.status_code == 200, health.text
        status = health.json["scheduler"]
    finally:
        second.stop()
        first.stop()
    all_ticks = enqueued(runtime.redis, runtime.settings.redis_namespace, queues)
    assert len(all_ticks) == len(set(all_ticks)), f"duplicate ticks: {all_ticks}"
    minutes = sorted(dt.datetime.fromisoformat(t) for t in ticks())
    gaps = [(b - a) for a, b in zip(minutes, minutes[1:])]
    assert all(g == dt.timedelta(minutes=1) for g in gaps), f"a tick was lost: {minutes}"
    assert status["alive"] and len(status["instances"]) >= 1
    # (a periodiq seen by an earlier test may be listed too: it has no schedule of its own)
    schedule = next(instance for instance in status["instances"] if "schedule" in instance)["schedule"]
    assert schedule["reminders_tick"] == "* * * * *" and schedule["reminders_cleanup"] == "0 3 * * *"
    assert schedule["whatsapp_sessions_cleanup"] == "*/5 * * * *"
    assert set(schedule) == {a.actor_name for a in broker.actors.values() if "periodic" in a.options}
    tick = status["ticks"]["reminders_tick"]
    assert tick["last_tick"] and tick["next_tick"] > tick["last_tick"]
    assert "missed_ticks" in status
    assert "SCHEDULER_STOPPED" in second.log()


def test_real_scheduler_survives_a_redis_outage_and_counts_missed_ticks(tmp_logs, valkey):
    """`prosaas scheduler` on a private valkey: stop it for a few (fast) minutes; the process goes on."""
    client = valkey.client()
    client.flushall()
    namespace = "sched-outage"
    env = {"SCHEDULER_TICK_SECONDS": "1", "REDIS_URL": valkey.url, "PROSAAS_REDIS_NAMESPACE": namespace}
    scheduler = start_scheduler(tmp_logs, env=env, name="scheduler-outage")
    try:
        def ticks():
            return [t for a, t in enqueued(client, namespace) if a == "reminders_tick"]
        wait_for(lambda: len(ticks()) >= 2, 20, what="ticks before the outage")
        valkey.stop()
        wait_for(lambda: scheduler.log().count("TICK_MISSED") >= 2, 30, what="missed ticks while Redis is down")
        assert scheduler.process.poll() is None, "the scheduler exited during the outage"
        valkey.start()
        client = valkey.client()
        after = len(ticks())
        wait_for(lambda: len(ticks()) >= after + 2, 20, what="ticks after Redis came back")
        wait_for(lambda: int(client.get(Keys(namespace)("scheduler", "missed_ticks")) or 0) >= 2, 20,
                 what="missed ticks written to Redis")
    finally:
        scheduler.stop()
        if not valkey.is_up():
            valkey.start()
    all_ticks = enqueued(valkey.client(), namespace)
    assert len(all_ticks) == len(set(all_ticks))


def _night_of_ticks(private, zone: str, first_utc: dt.datetime, minutes: int) -> dict[str, list[str]]:
    """Two schedulers reading cron specs in `zone` step through `minutes` real minutes (twice a minute)."""
    from zoneinfo import ZoneInfo

    for name, spec in [("hourly", "0 * * * *"), ("at_half_past_one", "30 1 * * *"),
                       ("at_half_past_two", "30 2 * * *")]:
        dramatiq.actor(_noop, broker=private.broker, actor_name=name, queue_name="default", periodic=cron(spec))
    clock = Clock(first_utc)
    a, b = (TickScheduler(private.broker, private.client, private.keys, now=clock, zone=ZoneInfo(zone))
            for _ in range(2))
    for minute in range(minutes):
        for second in (5, 40):
            clock.at = first_utc + dt.timedelta(minutes=minute, seconds=second)
            a.step()
            b.step()
    ticks = enqueued(private.client)
    assert len(ticks) == len(set(ticks)), "a tick was enqueued twice"
    by_actor: dict[str, list[str]] = {}
    for actor, tick in ticks:
        by_actor.setdefault(actor, []).append(tick)
    return {actor: sorted(names, key=dt.datetime.fromisoformat) for actor, names in by_actor.items()}


def test_spring_forward_night_in_jerusalem_skips_no_tick(private):
    # 2026-03-27 02:00 local (+02) jumps to 03:00 (+03); from 22:00 to 07:00 local, 8 real hours.
    ticks = _night_of_ticks(private, "Asia/Jerusalem", dt.datetime(2026, 3, 26, 20, 0, tzinfo=UTC), 8 * 60)
    assert len(ticks["every_minute"]) == 480 and len(ticks["every_five"]) == 96
    assert [t[11:] for t in ticks["hourly"]] == ["22:00:00+02:00", "23:00:00+02:00", "00:00:00+02:00",
                                                 "01:00:00+02:00", "03:00:00+03:00", "04:00:00+03:00",
                                                 "05:00:00+03:00", "06:00:00+03:00"]
    assert ticks["at_half_past_one"] == ["2026-03-27T01:30:00+02:00"]
    assert ticks["at_half_past_two"] == ["2026-03-27T02:30:00+02:00"]  # a time that never was: fired at 03:00
    assert ticks["at_three"] == ["2026-03-27T03:00:00+03:00"]


def test_fall_back_night_in_jerusalem_doubles_no_tick(private):
    # 2026-10-25 02:00 local (+03) goes back to 01:00 (+02); from 22:00 to 05:00 local, 8 real hours.
    ticks = _night_of_ticks(private, "Asia/Jerusalem", dt.datetime(2026, 10, 24, 19, 0, tzinfo=UTC), 8 * 60)
    assert len(ticks["every_minute"]) == 480 and len(ticks["every_five"]) == 96  # every real minute, once
    assert [t[11:] for t in ticks["hourly"]] == ["22:00:00+03:00", "23:00:00+03:00", "00:00:00+03:00",
                                                 "01:00:00+03:00", "01:00:00+02:00", "02:00:00+02:00",
                                                 "03:00:00+02:00", "04:00:00+02:00"]
    assert ticks["at_half_past_one"] == ["2026-10-25T01:30:00+03:00"]  # the repeated 01:30 fires once
    assert ticks["at_half_past_two"] == ["2026-10-25T02:30:00+02:00"]
    assert ticks["at_three"] == ["2026-10-25T03:00:00+02:00"]


def test_scheduler_timezone_setting_defaults_to_utc_and_names_a_bad_zone(monkeypatch):
    from prosaas.settings import Settings, load_settings

    assert Settings(_env_file=None).scheduler_timezone == "UTC"
    monkeypatch.setenv("SCHEDULER_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SystemExit, match="SCHEDULER_TIMEZONE"):
        load_settings()
