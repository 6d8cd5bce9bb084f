"""Dead letters expire, crash-redelivery counts do not outlive their message, a retried job's letter is gone."""
import time

from prosaas.dead_letters import list_dead_letters, requeue_dead_letter
from prosaas.jobs import control_job
from tests.machinery.helpers import job_row, marker, start_job, wait_status
from tests.support import sample_actors
from tests.support.processes import wait_for


def test_crash_redelivery_counts_are_pruned_when_the_crashing_jobs_finish(worker_factory, business, runtime,
                                                                          redis_marks, clean_queues):
    runtime.redis.delete(runtime.keys("redeliveries"))
    markers = [marker() for _ in range(3)]
    job_ids = [start_job(sample_actors.crash_first, business, marker=m) for m in markers]
    worker = worker_factory(queues="default", greenlets=1)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not all(job_row(j).status == "completed" for j in job_ids):
        if worker.process.poll() is not None:  # what supervisord does: start it again
            worker = worker_factory(queues="default", greenlets=1)
        time.sleep(0.3)
    assert all(wait_status(j, "completed", timeout=5) for j in job_ids)
    assert all(redis_marks.finished(m) == 1 for m in markers)
    try:
        wait_for(lambda: runtime.redis.hlen(runtime.keys("redeliveries")) == 0, 30,
                 what="the redelivery counter hash to be empty again")
    except AssertionError as exc:
        left = runtime.redis.hgetall(runtime.keys("redeliveries"))
        raise AssertionError(f"{exc}: left {left}, the jobs' message ids "
                             f"{[job_row(j).message_id for j in job_ids]}") from None


def test_a_skipped_copy_of_a_finished_job_drops_its_crash_count(worker_factory, business, runtime, broker,
                                                                redis_marks, clean_queues):
    """A worker killed before its ack reached Redis leaves a finished job's message to be redelivered and
    counted; the copy is skipped (the row is finished), and its count must go with it."""
    m = marker()
    job_id = start_job(sample_actors.record_run, business, marker=m)
    first = worker_factory(queues="default")
    wait_status(job_id, "completed")
    first.stop()  # the copy goes to a worker that never ran the job itself
    worker_factory(queues="default")
    message_id = job_row(job_id).message_id
    runtime.redis.hset(runtime.keys("redeliveries"), message_id, 1)  # as recovery counts a redelivery
    copy = sample_actors.record_run.message_with_options(
        kwargs={"business_id": business.id, "marker": m}, job_id=job_id, business_id=business.id,
    ).copy(message_id=message_id)
    broker.enqueue(copy)
    wait_for(lambda: runtime.redis.hget(runtime.keys("redeliveries"), message_id) is None, 30,
             what="the skipped copy's crash count to be pruned")
    assert redis_marks.runs(m) == 1


def test_requeued_crashed_worker_letter_gets_a_fresh_crash_budget(worker_factory, business, runtime, broker,
                                                                  clean_queues):
    m = marker()
    job_id = start_job(sample_actors.always_crash, business, marker=m)
    env = {"MAX_CRASH_REDELIVERIES": "1"}
    worker = worker_factory(queues="default", env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and job_row(job_id).status != "failed":
        if worker.process.poll() is not None:
            worker = worker_factory(queues="default", env=env)
        time.sleep(0.3)
    worker.stop()
    letter = next(e for e in list_dead_letters(runtime) if e["job_id"] == job_id)
    assert letter["reason"] == "crashed_worker"
    assert runtime.redis.hget(runtime.keys("redeliveries"), letter["message_id"]) is not None
    assert requeue_dead_letter(broker, letter["message_id"])
    assert runtime.redis.hget(runtime.keys("redeliveries"), letter["message_id"]) is None


def test_dead_letters_expire_in_redis_and_in_the_list(worker_factory, business, runtime, redis_marks, clean_queues):
    m = marker()
    job_id = start_job(sample_actors.poison, business, marker=m)
    worker = worker_factory(queues="default", env={"DEAD_LETTER_TTL_SECONDS": "3"})
    wait_status(job_id, "failed", timeout=60)
    letter_key = runtime.keys.dead_letters("default")
    wait_for(lambda: runtime.redis.zcard(letter_key) == 0, 30, what="the dead letter to expire in Redis")
    assert runtime.redis.hlen(runtime.keys.dead_letter_messages("default")) == 0
    assert "DEAD_LETTERS_EXPIRED" in worker.log()


def test_expired_dead_letters_are_not_listed(business, runtime, clean_queues, broker):
    """A letter past DEAD_LETTER_TTL_SECONDS that no sweep has deleted yet (no worker running) is hidden."""
    message = sample_actors.poison.message(business.id, marker())
    stale_ms = int(time.time() * 1000) - (runtime.settings.dead_letter_ttl_seconds + 60) * 1000
    runtime.redis.zadd(runtime.keys.dead_letters("default"), {"old-letter": stale_ms})
    runtime.redis.hset(runtime.keys.dead_letter_messages("default"), "old-letter", message.encode())
    assert not [e for e in list_dead_letters(runtime) if e["message_id"] == message.message_id]


def test_a_job_retried_through_the_api_loses_its_dead_letter(worker_factory, business, runtime, broker, redis_marks,
                                                             clean_queues):
    m = marker()
    job_id = start_job(sample_actors.poison, business, marker=m)
    worker_factory(queues="default")
    wait_status(job_id, "failed", timeout=60)
    letter = next(e for e in list_dead_letters(runtime) if e["job_id"] == job_id)
    control_job(job_id, None, "retry", broker=broker)
    assert not [e for e in list_dead_letters(runtime) if e["job_id"] == job_id]
    assert requeue_dead_letter(broker, letter["message_id"]) is None  # nothing left to run the job a second time
    wait_for(lambda: redis_marks.runs(m) == 6, 60, what="the retried job to run its tries again")
    wait_status(job_id, "failed", timeout=30)
    time.sleep(1)
    assert redis_marks.runs(m) == 6
