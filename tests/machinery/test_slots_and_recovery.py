"""Per-business slots, crash recovery (SIGKILL), crash loops and graceful shutdown, with real worker processes."""
import signal
import time

from tests.machinery.helpers import job_row, marker, start_job, wait_status
from tests.support import sample_actors
from tests.support.processes import wait_for


def _int(value) -> int:
    return int(value or 0)


def test_per_business_slots_cap_concurrency_without_starving_others(worker_factory, make_business, runtime,
                                                                    clean_queues):
    a, b = make_business("A"), make_business("B")
    m = marker()
    for _ in range(30):
        sample_actors.limited.send(business_id=a.id, marker=m, ms=300)
    for _ in range(3):
        sample_actors.limited.send(business_id=b.id, marker=m, ms=300)
    client = runtime.redis
    waiting_a = runtime.keys("waiting", "limited", a.id)
    assert client.llen(waiting_a) == 27  # A's backlog waits in A's own list, not in the shared queue
    assert client.llen(runtime.keys.queue("recordings")) == 6
    worker = worker_factory(queues="recordings", greenlets=10)
    done_a, done_b = sample_actors.mark("done", m, a.id), sample_actors.mark("done", m, b.id)
    wait_for(lambda: client.llen(done_b) == 3, 60, what="business B's jobs to finish")
    assert client.llen(done_a) < 30, "B had to wait for A's whole backlog"
    wait_for(lambda: client.llen(done_a) == 30, 90, what="business A's backlog to finish")
    assert _int(client.get(sample_actors.mark("peak", m, a.id))) == 3
    assert _int(client.get(sample_actors.mark("peak", m, b.id))) <= 3
    log = worker.log()
    assert "SLOT_ACQUIRED" in log and "SLOT_RELEASED" in log and "active_after=" in log
    assert client.llen(waiting_a) == 0
    assert "Retries exceeded" not in log  # waiting for a slot never spends a retry


def test_sigkilled_worker_job_completes_on_a_new_worker_and_its_slot_expires(worker_factory, make_business, runtime,
                                                                              redis_marks, clean_queues):
    business = make_business()
    m = marker()
    job_id = start_job(sample_actors.slow, business, marker=m, ms=4000)
    slot_marker = marker()
    sample_actors.limited.send(business_id=business.id, marker=slot_marker, ms=60_000)
    worker = worker_factory(queues="default,recordings")
    wait_status(job_id, "running", timeout=30)
    slot_key = runtime.keys("slots", "limited", business.id)
    wait_for(lambda: runtime.redis.zcard(slot_key) == 1, 30, what="slot held")
    worker.kill_group()
    killed_at = time.monotonic()

    lease = int(runtime.settings.slot_lease_seconds)
    wait_for(lambda: runtime.redis.zcount(slot_key, int(time.time() * 1000), "+inf") == 0, lease + 5,
             what="the dead worker's slot lease to expire")
    assert time.monotonic() - killed_at <= lease + 5

    worker_factory(queues="default")
    row = wait_status(job_id, "completed", timeout=120)
    assert row.attempts == 2 and redis_marks.finished(m) == 1


def test_job_that_kills_its_worker_every_time_is_dead_lettered_as_crashed_worker(worker_factory, business, runtime,
                                                                                 clean_queues):
    m = marker()
    job_id = start_job(sample_actors.always_crash, business, marker=m)
    env = {"MAX_CRASH_REDELIVERIES": "1"}
    worker = worker_factory(queues="default", env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if job_row(job_id).status == "failed":
            break
        if worker.process.poll() is not None:  # what supervisord does: start it again
            worker = worker_factory(queues="default", env=env)
        time.sleep(0.3)
    row = job_row(job_id)
    assert row.status == "failed" and row.error_reason == "crashed_worker", (row.status, row.error_reason)
    assert _int(runtime.redis.get(sample_actors.mark("attempts", m))) == 2
    from prosaas.dead_letters import list_dead_letters

    assert [e["reason"] for e in list_dead_letters(runtime) if e["job_id"] == job_id] == ["crashed_worker"]


def test_sigterm_lets_the_running_job_finish_and_loses_nothing(worker_factory, business, redis_marks, clean_queues):
    slow_marker, quick_marker = marker(), marker()
    slow_id = start_job(sample_actors.slow, business, marker=slow_marker, ms=2500)
    worker = worker_factory(queues="default", greenlets=1)
    wait_status(slow_id, "running", timeout=30)
    quick_ids = [start_job(sample_actors.record_run, business, marker=quick_marker) for _ in range(5)]
    worker.signal(signal.SIGTERM)
    assert worker.process.wait(60) in (0, 1)
    assert wait_status(slow_id, "completed", timeout=5)
    assert redis_marks.finished(slow_marker) == 1
    log = worker.log()
    assert "WORKER_STOPPED" in log and "processed=" in log and "success_rate=" in log
    worker_factory(queues="default")
    for job_id in quick_ids:
        wait_status(job_id, "completed", timeout=60)
    assert redis_marks.runs(quick_marker) == 5
