"""Recovery by process liveness: a SIGKILLed worker is found by its pid on the same host, long before the
heartbeat timeout; a worker alive but too busy to heartbeat is never recovered early. Real worker processes."""
import json
import time

from tests.machinery.helpers import job_row, marker, start_job, wait_status
from tests.support import sample_actors
from tests.support.processes import wait_for

# Far above the 10 s the tests wait: only pid liveness can recover within the deadline.
SLOW_TIMEOUT = {"WORKER_DEAD_AFTER_SECONDS": "60", "JOB_STALE_AFTER_SECONDS": "60"}


def test_sigkilled_worker_is_recovered_by_pid_liveness_not_by_the_heartbeat_timeout(worker_factory, business,
                                                                                   runtime, redis_marks,
                                                                                   clean_queues):
    env = {**SLOW_TIMEOUT, "WORKER_HEARTBEAT_SECONDS": "5"}  # the default beat
    survivor = worker_factory(queues="maintenance", env=env)  # another prosaas worker on this host
    victim = worker_factory(queues="default", env=env)
    m = marker()
    job_id = start_job(sample_actors.slow, business, marker=m, ms=4000)
    wait_status(job_id, "running", timeout=30)
    queue = runtime.keys.queue("default")
    assert runtime.redis.llen(queue) == 0
    victim.kill_group()

    wait_for(lambda: runtime.redis.llen(queue) == 1, 12,
             what="the killed worker's message back in the queue, well before WORKER_DEAD_AFTER_SECONDS=60")
    assert "WORKER_EXITED" in survivor.log() and "reason=dead_worker" in survivor.log()
    # What supervisord does: start it again. The row still shows the dead process running with a fresh
    # heartbeat (JOB_STALE_AFTER_SECONDS=60); the new worker takes it over because that pid is gone.
    worker_factory(queues="default", env=env)
    row = wait_status(job_id, "completed", timeout=30)
    assert row.attempts == 2 and redis_marks.runs(m) == 2 and redis_marks.finished(m) == 1


def test_worker_alive_but_busy_with_cpu_bound_work_is_not_recovered_early(worker_factory, business, runtime,
                                                                          redis_marks, clean_queues):
    env = {**SLOW_TIMEOUT, "WORKER_HEARTBEAT_SECONDS": "1"}
    watcher = worker_factory(queues="maintenance", env=env)
    busy = worker_factory(queues="default", env=env, greenlets=1)
    m = marker()
    job_id = start_job(sample_actors.cpu_busy, business, marker=m, seconds=12)
    wait_status(job_id, "running", timeout=30)
    busy_worker = f"{job_row(job_id).worker}"
    silences = []

    def finished():
        raw = runtime.redis.hget(runtime.keys("workers"), busy_worker)
        if raw:
            silences.append(time.time() - json.loads(raw)["last_heartbeat"])
        return redis_marks.finished(m) == 1

    wait_for(finished, 120, interval=0.5, what="the CPU-bound job to finish")
    assert max(silences) > 5, "the busy worker kept heartbeating: this test did not block its hub"
    assert wait_status(job_id, "completed", timeout=30)
    assert redis_marks.runs(m) == 1
    assert "WORKER_EXITED" not in watcher.log() and "JOB_REDELIVERED" not in watcher.log()
    assert busy.process.poll() is None
