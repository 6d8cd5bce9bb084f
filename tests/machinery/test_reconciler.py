"""The reconciler: a tracked job whose message Redis does not have is sent again, and only then."""
import time

from db import job_store
from db.base import new_id
from prosaas.message_presence import jobs_with_a_message
from prosaas.reconciler import Reconciler
from prosaas.settings import ALL_QUEUES
from tests.machinery.helpers import job_row, marker, retire_earlier_tests_rows, start_job, wait_status
from tests.support import sample_actors
from tests.support.processes import wait_for


def committed_without_message(actor, business, **kwargs) -> str:
    """The row exactly as the API commits it (same row builder, same message id), with no message sent:
    the state a web process SIGKILLed between its commit and its send leaves behind."""
    from prosaas.runtime import get_runtime

    job_id = new_id()
    message = actor.message_with_options(kwargs={"business_id": business.id, **kwargs}, job_id=job_id,
                                         business_id=business.id)
    with get_runtime().database.session() as session:
        job_store.create_job(session, is_batch=False, job_id=job_id, business_id=business.id,
                             type=actor.actor_name, actor_name=actor.actor_name, queue=message.queue_name,
                             message_id=message.message_id, args=kwargs)
    return job_id


def make_reconciler(runtime, after: int = 1) -> Reconciler:
    return Reconciler(runtime.redis, runtime.keys, runtime.database, ALL_QUEUES, reconcile_after_seconds=after,
                      stale_after_seconds=after)


def test_only_jobs_without_a_message_anywhere_are_resent(broker, business, runtime, clean_queues):
    orphan = committed_without_message(sample_actors.record_run, business, marker=marker())
    queued = start_job(sample_actors.record_run, business, marker=marker())           # in the queue
    from prosaas.jobs import enqueue_tracked
    delayed = enqueue_tracked(sample_actors.record_run, business_id=business.id, kwargs={"marker": marker()},
                              delay_ms=600_000).job_id                                   # in the delay queue
    time.sleep(1.2)
    reconciler = make_reconciler(runtime)
    resent = reconciler.run_once(broker)  # (rows other tests left behind may be resent too)
    assert orphan in resent and queued not in resent and delayed not in resent
    row = job_row(orphan)
    assert row.status == "queued" and row.error_reason == "message_missing"
    assert jobs_with_a_message(runtime.redis, runtime.keys.namespace, ALL_QUEUES, [orphan, queued, delayed]) == {
        orphan, queued, delayed}
    assert orphan not in reconciler.run_once(broker)  # its message is there now: never a second copy
    stored = runtime.redis.hgetall(runtime.keys.queue_messages("default"))
    assert sum(orphan.encode() in data for data in stored.values()) == 1
    assert any(row.message_id.encode() in data for data in stored.values())  # same message id: dedupe holds


def test_a_row_claimed_while_redis_was_searched_is_not_resent(business, runtime):
    """Read, then claimed by a worker whose message was only slow: the conditional update refuses."""
    from db.base import utcnow
    import datetime as dt

    job_id = committed_without_message(sample_actors.record_run, business, marker=marker())
    with runtime.database.session() as session:
        seen = job_store.get_job(session, job_id)
        session.expunge(seen)
    with runtime.database.session() as session:
        assert job_store.claim_for_run(session, job_id, worker="elsewhere:1",
                                       stale_before=utcnow() - dt.timedelta(seconds=60)).action == "run"
    with runtime.database.session() as session:
        assert not job_store.mark_resent(session, seen, message_id=seen.message_id)
    assert job_row(job_id).status == "running"


def test_job_committed_but_never_sent_still_runs_once(worker_factory, business, redis_marks, clean_queues, client,
                                                       admin_headers):
    retire_earlier_tests_rows()
    m = marker()
    job_id = committed_without_message(sample_actors.record_run, business, marker=m)
    worker = worker_factory(queues="default", env={"RECONCILE_AFTER_SECONDS": "2"})
    wait_status(job_id, "completed", timeout=60)
    wait_for(lambda: f"JOB_RESENT reason=message_missing job_id={job_id}" in worker.log(), 10,
             what="the JOB_RESENT line")
    time.sleep(2)
    assert redis_marks.runs(m) == 1
    metrics = client.simulate_get("/metrics", headers=admin_headers).text
    assert 'prosaas_jobs_resent_total{reason="message_missing"}' in metrics
    health = client.simulate_get("/api/jobs/health", headers=admin_headers).json
    assert health["reconciler"]["resent_total"] >= 1
