"""The worker's maintenance loop and its registry tasks, driven one round at a time on a private Redis namespace."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid

import pytest

from prosaas.process_identity import process_identity
from prosaas.redis_protocol import Keys
from prosaas.worker_maintenance import (MaintenanceLoop, MaintenanceRound, MarkExitedWorkers, OneSweeperAtATime,
                                        PruneRegistry)


@pytest.fixture
def keys(runtime):
    keys = Keys(f"unit-maintenance-{uuid.uuid4().hex[:8]}")
    yield keys
    for key in runtime.redis.scan_iter(match=f"{keys.namespace}:*"):
        runtime.redis.delete(key)


def test_a_failing_task_ends_its_round_and_is_logged_as_heartbeat_failed(caplog):
    ran, rounds = [], threading.Event()

    def first(round_):
        ran.append("first")
        if ran.count("first") >= 2:
            rounds.set()

    def failing(round_):
        raise RuntimeError("redis is down")

    loop = MaintenanceLoop([first, failing, lambda round_: ran.append("after")], interval_seconds=0.01)
    with caplog.at_level("WARNING", logger="prosaas.worker"):
        loop.start(broker=None, worker_id="host:1")
        assert rounds.wait(5)
        loop.stop()
    assert "after" not in ran  # the tasks after a failure wait for the next round
    assert "HEARTBEAT_FAILED worker=host:1" in caplog.text


def test_one_sweeper_at_a_time_unless_an_exited_worker_was_just_found(runtime, keys):
    swept = []
    sweeper = OneSweeperAtATime(runtime.redis, keys, lease_seconds=30,
                                tasks=[lambda round_: swept.append(round_.worker_id)])
    sweeper(MaintenanceRound(None, "host:1"))
    sweeper(MaintenanceRound(None, "host:2"))  # the lock is host:1's for this heartbeat
    sweeper(MaintenanceRound(None, "host:3", exited_workers_found=True))
    assert swept == ["host:1", "host:3"]


def test_prune_registry_drops_long_silent_and_unreadable_entries(runtime, keys):
    registry = keys("workers")
    runtime.redis.hset(registry, mapping={
        "host:1": json.dumps({"last_heartbeat": time.time()}),
        "host:2": json.dumps({"last_heartbeat": time.time() - 4 * 30 - 1}),
        "host:3": "not json",
    })
    PruneRegistry(runtime.redis, keys, dead_after_seconds=30)(MaintenanceRound(None, "host:1"))
    assert set(runtime.redis.hkeys(registry)) == {b"host:1"}


def test_an_exited_process_of_this_host_is_marked_once_and_makes_the_round_sweep(runtime, keys, caplog):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    if not identity:
        pytest.skip("no /proc process identity on this system")
    entry = {"worker": f"host:{child.pid}", "broker_id": "b-1", "last_heartbeat": time.time(), **identity}
    runtime.redis.hset(keys("workers"), entry["worker"], json.dumps(entry))
    mark = MarkExitedWorkers(runtime.redis, keys)
    round_ = MaintenanceRound(None, "host:1")
    with caplog.at_level("WARNING", logger="prosaas.worker"):
        mark(round_)
        again = MaintenanceRound(None, "host:1")
        mark(again)
    assert round_.exited_workers_found and not again.exited_workers_found
    assert json.loads(runtime.redis.hget(keys("workers"), entry["worker"]))["exited"] is True
    assert caplog.text.count(f"WORKER_EXITED worker=host:{child.pid}") == 1
