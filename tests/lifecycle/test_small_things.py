"""Issue 16 item 10: metrics present when idle, attempts after a redelivery, clean CLI output, due_at_local,
no "0s ago", a build without setuptools warnings, .schemathesis/ ignored."""
import datetime as dt
import json
import re
import shutil
import subprocess
import sys

import requests

from prosaas.jobs import enqueue_tracked
from prosaas.overview import relative_time
from tests.support import sample_actors
from tests.support.environment import REPO_ROOT
from tests.support.processes import json_of, run_cli, wait_for


def test_idle_metrics_have_samples_at_zero(web_server, worker_factory, admin_headers):
    worker_factory(queues="default")
    in_progress = re.compile(r'^prosaas_jobs_in_progress\{actor="[^"]+",queue="default"\} 0\.0$', re.M)
    text = wait_for(lambda: (lambda t: t if in_progress.search(t) else None)(
        requests.get(f"{web_server}/metrics", headers=admin_headers, timeout=30).text), 30,
        what="prosaas_jobs_in_progress at 0 from the idle worker")
    assert re.search(r'^prosaas_business_slots_in_use\{actor="[^"]+"\} \d', text, re.M)


def test_job_picked_attempt_agrees_with_the_api_after_a_crash_redelivery(broker, worker_factory, business,
                                                                         clean_queues):
    crashed = worker_factory(queues="default", name="crashing")
    job_id = enqueue_tracked(sample_actors.crash_first, business_id=business.id,
                             kwargs={"marker": f"redeliver-{business.id}"}).job_id
    wait_for(lambda: crashed.process.poll() is not None or not crashed.child_pids(), 60,
             what="the worker process killed by its job")
    crashed.kill_group()
    rescuer = worker_factory(queues="default", name="rescuer")
    job = wait_for(lambda: (lambda j: j if j["status"] == "completed" else None)(
        json_of(run_cli("jobs", "show", job_id))), 90, what="the redelivered job completed")
    picked = [line for line in rescuer.log().splitlines() if "JOB_PICKED" in line and job_id in line]
    assert picked and job["attempts"] == 2, (job, picked)
    assert f"attempt={job['attempts']}" in picked[-1]


def test_jobs_retry_prints_only_its_answer(business):
    job_id = enqueue_tracked(sample_actors.record_run, business_id=business.id, kwargs={"marker": "retry-out"}).job_id
    assert run_cli("jobs", "cancel", job_id).returncode == 0
    retried = run_cli("jobs", "retry", job_id)
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["id"] == job_id  # stdout is exactly the JSON answer
    assert "JOB_" not in retried.stdout + retried.stderr


def test_due_at_local_is_in_the_timezone_given_to_business_create(web_server):
    refused = run_cli("business", "create", "Nowhere Ltd", "--timezone", "Mars/Olympus_Mons")
    assert refused.returncode == 2 and "--timezone" in refused.stderr
    created = json_of(run_cli("business", "create", "Tel Aviv Ltd", "--timezone", "Asia/Jerusalem", "--json"))
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).replace(microsecond=0)
    answer = requests.post(f"{web_server}/api/reminders", headers=headers, timeout=30,
                           json={"user_id": "u1", "text": "call back", "due_at": due.isoformat()})
    assert answer.status_code == 201, answer.text
    reminder = answer.json()
    local = dt.datetime.fromisoformat(reminder["due_at_local"])
    assert reminder["timezone"] == "Asia/Jerusalem" and local.utcoffset() in (dt.timedelta(hours=2),
                                                                              dt.timedelta(hours=3))
    assert local == due


def test_a_tick_due_now_reads_now_never_0s_ago():
    now = dt.datetime.now(dt.timezone.utc)
    for offset in (-0.9, -0.4, 0.0, 0.4, 0.9):
        assert relative_time((now + dt.timedelta(seconds=offset)).isoformat()) == "now"
    assert relative_time((now + dt.timedelta(seconds=30)).isoformat()) in ("in 30s", "in 29s")
    assert relative_time((now - dt.timedelta(seconds=30)).isoformat()) in ("30s ago", "31s ago")


def test_building_the_package_gives_no_setuptools_warnings_and_keeps_the_data_files(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "tests",
                                                                     "*.egg-info", "build", "bench"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "is absent from the `packages` configuration" not in built.stdout + built.stderr
    wheel = next((tmp_path / "dist").glob("prosaas-*.whl"))
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True,
                           text=True).stdout
    for data_file in ("db/migrations/script.py.mako", "web/templates/dashboard.html", "web/static/dashboard.js",
                      "db/migrations/versions/0005_merge_heads.py"):
        assert data_file in names


def test_schemathesis_cache_is_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".schemathesis/examples.db"], cwd=REPO_ROOT)
    assert ignored.returncode == 0
