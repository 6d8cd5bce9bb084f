"""GET /api/jobs/{id} tells the business itself when its job is stuck: `stale` with the reason."""
from tests.machinery.helpers import wait_status
from tests.support.processes import wait_for


def _view(client, business, job_id):
    return client.simulate_get(f"/api/jobs/{job_id}", headers=business.headers).json


def _ping(client, business, **body) -> str:
    answer = client.simulate_post("/api/diagnostics/ping", json=body, headers=business.headers)
    assert answer.status_code == 202, answer.text
    return answer.json["job_id"]


def test_a_job_whose_worker_died_is_stale_then_a_queued_one_with_no_consumer_says_which_queue(
        client, business, worker_factory, clean_queues):
    worker = worker_factory(queues="default")
    running = _ping(client, business, steps=200, step_ms=300)
    wait_status(running, "running", timeout=60)
    view = _view(client, business, running)
    assert view["stale"] is False and view["stale_reason"] is None  # heartbeating: fine
    worker.kill_group()
    lost = wait_for(lambda: (lambda v: v if v["stale"] else None)(_view(client, business, running)), 60,
                    what="the running job to show its worker was lost")
    assert lost["status"] == "running" and lost["stale_reason"] == "worker lost"

    queued = _ping(client, business)
    stuck = wait_for(lambda: (lambda v: v if v["stale"] else None)(_view(client, business, queued)), 60,
                     what="the queued job to show that nobody consumes its queue")
    assert stuck["status"] == "queued" and stuck["stale_reason"] == "no worker consumes queue default"

    second = worker_factory(queues="default")
    wait_status(queued, "completed", timeout=60)
    done = _view(client, business, queued)
    assert done["stale"] is False and done["stale_reason"] is None
    # The first job, taken over by this worker, runs another minute: a graceful stop would only wait out
    # the shutdown grace for it.
    second.kill_group()
