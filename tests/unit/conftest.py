"""The in-process tier: our middleware on Dramatiq's StubBroker and an in-process Worker (as Dramatiq's own
tests/conftest.py does), with the real database. No worker subprocess, no Redis round trip per message."""
from __future__ import annotations

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from db import job_store
from db.base import new_id
from prosaas.middleware.retries import ProsaasRetries
from prosaas.middleware.tracking import JobTracking


@pytest.fixture
def stub_broker(runtime):
    """The global broker for the test, as a worker role's is (JobProgress.current() reports through it),
    built with the run's runtime as build_broker records it."""
    broker = StubBroker(middleware=[JobTracking(runtime.database, stale_after_seconds=60), ProsaasRetries(),
                                    CurrentMessage()])
    broker.runtime = runtime
    broker.emit_after("process_boot")
    previous = dramatiq.broker.global_broker
    dramatiq.set_broker(broker)
    yield broker
    dramatiq.set_broker(previous)
    broker.flush_all()
    broker.close()


@pytest.fixture
def stub_worker(stub_broker):
    worker = dramatiq.Worker(stub_broker, worker_timeout=100, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def start_tracked(runtime):
    """Write a job row and send its message, as prosaas.jobs.enqueue_tracked does, on the actor's own broker."""
    def start(actor, business_id: int, **kwargs) -> str:
        job_id = new_id()
        message = actor.message_with_options(kwargs={"business_id": business_id, **kwargs}, job_id=job_id,
                                             business_id=business_id)
        with runtime.database.session() as session:
            job_store.create_job(session, is_batch=bool(actor.options.get("batch")), job_id=job_id,
                                 business_id=business_id, type=actor.options.get("job_type", actor.actor_name),
                                 actor_name=actor.actor_name, queue=message.queue_name,
                                 message_id=message.message_id, args=kwargs)
        actor.broker.enqueue(message)
        return job_id
    return start


@pytest.fixture
def job_row(runtime):
    def read(job_id: str):
        with runtime.database.session() as session:
            return job_store.get_job(session, job_id)
    return read
