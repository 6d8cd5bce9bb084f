"""Pausing a queue: workers stop taking from it, its messages stay and wait, resume drains it; every view shows it."""
import time

from prosaas.queue_pause import QueuePauses, pause_queue
from prosaas.queue_stats import queue_counts
from tests.machinery.helpers import marker
from tests.ops.test_metrics import samples, value
from tests.support import sample_actors
from tests.support.processes import run_cli, wait_for


def test_a_paused_queue_keeps_its_messages_and_resume_drains_them(worker_factory, client, admin_headers, business,
                                                                  runtime, redis_marks, clean_queues,
                                                                  no_paused_queues):
    worker_factory(queues="default")
    first = marker()
    sample_actors.record_run.send(business.id, first)
    wait_for(lambda: redis_marks.runs(first) == 1, 30, what="the worker to consume default")

    answer = client.simulate_post("/api/admin/queues/default/pause", headers=admin_headers)
    assert answer.status_code == 200 and answer.json == {"queue": "default", "paused": True}
    time.sleep(1.5)  # the workers' view of the paused queues is at most ~0.5 s old

    held = marker()
    for _ in range(20):
        sample_actors.record_run.send(business.id, held)  # the API side still accepts them
    wait_for(lambda: queue_counts(runtime)["default"]["ready"] == 20, 10, what="20 messages ready in the paused queue")
    time.sleep(2)
    assert redis_marks.runs(held) == 0
    assert queue_counts(runtime)["default"]["ready"] == 20

    health = client.simulate_get("/api/jobs/health", headers=admin_headers).json
    assert health["paused_queues"] == ["default"] and health["queues"]["default"]["paused"] is True
    assert health["queues"]["low"]["paused"] is False
    metrics = samples(client.simulate_get("/metrics", headers=admin_headers).text)
    assert value(metrics, "prosaas_queue_paused", queue="default") == 1
    assert value(metrics, "prosaas_queue_paused", queue="low") == 0
    doctor = run_cli("doctor")
    assert any(line.startswith("WARN paused") and "default" in line for line in doctor.stdout.splitlines()), \
        doctor.stdout
    assert "PAUSED" in run_cli("info").stdout

    answer = client.simulate_post("/api/admin/queues/default/resume", headers=admin_headers)
    assert answer.status_code == 200 and answer.json == {"queue": "default", "paused": False}
    wait_for(lambda: redis_marks.runs(held) == 20, 30, what="the resumed queue to drain")
    assert queue_counts(runtime)["default"]["ready"] == 0


def test_pause_state_lives_in_redis_so_a_restarted_worker_still_honours_it(worker_factory, business, redis_marks,
                                                                           clean_queues, no_paused_queues):
    paused = run_cli("queues", "pause", "default")
    assert paused.returncode == 0 and '"paused": true' in paused.stdout, paused.stderr
    held = marker()
    for _ in range(5):
        sample_actors.record_run.send(business.id, held)
    worker_factory(queues="default")  # a worker started after the pause (as after a restart)
    time.sleep(2)
    assert redis_marks.runs(held) == 0
    assert run_cli("queues", "resume", "default").returncode == 0
    wait_for(lambda: redis_marks.runs(held) == 5, 30, what="the resumed queue to drain")


def test_pause_answers_404_for_an_unknown_queue_and_needs_the_admin_token(client, admin_headers, business,
                                                                          no_paused_queues):
    assert client.simulate_post("/api/admin/queues/nope/pause", headers=admin_headers).status_code == 404
    assert client.simulate_post("/api/admin/queues/default/pause", headers=business.headers).status_code == 403
    assert run_cli("queues", "pause", "nope").returncode == 2


def test_a_process_reads_the_paused_queues_at_most_once_per_refresh(runtime, no_paused_queues):
    now = [100.0]
    pauses = QueuePauses(runtime.redis, runtime.keys, refresh_seconds=0.5, clock=lambda: now[0])
    assert pauses.is_paused("low") is False
    pause_queue(runtime.redis, runtime.keys, "low")
    assert pauses.is_paused("low") is False  # the cached view, younger than refresh_seconds
    now[0] += 0.5
    assert pauses.is_paused("low") is True
