"""GET /api/jobs/worker/config answers from the live workers' own heartbeats, not the web process's env."""
from prosaas.queue_stats import live_workers, worker_config
from prosaas.runtime import get_runtime
from tests.support.processes import run_cli, wait_for


def _only_this_worker_alive(pids: set[int]):
    # A worker stopped by an earlier test counts as alive until its heartbeat is WORKER_DEAD_AFTER_SECONDS old.
    alive = [w for w in worker_config(live_workers(get_runtime()))["workers"] if w["alive"]]
    return alive if alive and {w["pid"] for w in alive} <= pids else None


def test_a_worker_on_default_only_does_not_listen_to_maintenance_and_doctor_fails(client, admin_headers,
                                                                                   worker_factory, clean_queues):
    worker = worker_factory(queues="default", env={"SERVICE_ROLE": "worker"})
    # The start line, as the replaced system's banner: queues, concurrency (greenlets) and the retry policy.
    assert "queues=default concurrency=10 retries=3x5s,10s,20s+jitter" in worker.log()
    pids = {worker.pid, *worker.child_pids()}
    wait_for(lambda: _only_this_worker_alive(pids), 60, what="the default-only worker to be the only live one")
    answer = client.simulate_get("/api/jobs/worker/config", headers=admin_headers)
    assert answer.status_code == 200
    config = answer.json
    # The web process here consumes every queue by its own settings; the answer must not say so.
    assert config["configured_queues"] == ["default"]
    assert config["listens_to_maintenance"] is False
    assert "maintenance" in config["queues_without_consumer"] and config["consumers"]["default"]
    live = [w for w in config["workers"] if w["alive"]]
    assert live and all(w["service_role"] == "worker" and w["queues"] == ["default"]
                        and w["listens_to_maintenance"] is False for w in live)
    assert set(config) >= {"role", "queues", "configured_queues", "workers", "consumers", "queues_without_consumer"}

    doctor = run_cli("doctor")
    assert doctor.returncode == 1
    consumers = next(line for line in doctor.stdout.splitlines() if line.split()[1:2] == ["consumers"])
    assert consumers.startswith("FAIL") and "maintenance" in consumers


def test_the_union_of_live_workers_queues_and_a_maintenance_listener():
    now_alive = {"alive": True, "age_s": 1.0}
    config = worker_config([
        {"worker": "a:1", "pid": 1, "queues": ["default", "high"], "service_role": "worker", **now_alive},
        {"worker": "b:2", "pid": 2, "queues": ["maintenance"], "service_role": "all", **now_alive},
        {"worker": "c:3", "pid": 3, "queues": ["low"], "alive": False, "age_s": 99.0},
    ])
    assert config["configured_queues"] == ["high", "default", "maintenance"]  # the dead worker's `low` is not
    assert config["listens_to_maintenance"] is True
    assert [w["service_role"] for w in config["workers"]] == ["worker", "all", "worker"]
