"""prosaas on many hosts, for real: Linux network namespaces on a private bridge hold PostgreSQL + Redis (db),
moto S3 (s3), two web, two worker and two scheduler hosts, each with its own PROSAAS_DATA_DIR.

The scenarios run in order on one cluster and each prints what it tried and what was lost
(`MULTIHOST <scenario> …`). The suite skips itself, with the reason, where namespaces cannot be made.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter
from urllib.parse import urlencode

import pytest
import requests

from tests.multihost.cluster import BUCKET, HOSTS, Cluster, report
from tests.multihost.netns import Network, cannot_make_namespaces
from tests.support.fake_twilio import FakeTwilio, callback_path, make_mp3
from tests.support.private_servers import postgres_bin_dir
from tests.support.processes import wait_for
from tests.support.sentinel_servers import redis_server_binary

pytestmark = [pytest.mark.e2e]

WORKER_MODULE = ("--module", "tests.multihost.actors")


@pytest.fixture(scope="module")
def cluster():
    reason = cannot_make_namespaces()
    if reason is None and postgres_bin_dir() is None:
        reason = "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if reason is None and redis_server_binary() is None:
        reason = "redis-server is not installed (`make test` installs Debian's redis-server)"
    if reason:
        pytest.skip(f"multi-host suite skipped: {reason}")
    network, made = Network(HOSTS), None
    try:
        network.create()
        made = Cluster(network)
        made.start_servers()
        made.roles = {}
        yield made
    finally:
        if made is not None:
            made.close()
        network.destroy()


@pytest.fixture(scope="module")
def account(cluster):
    """A business (and its API key) in the cluster's database, made on host ctl."""
    made = cluster.python("ctl", "tests.multihost.enqueue", "0")
    assert made.returncode == 0, made.stderr[-3000:]
    return json.loads(made.stdout.strip().splitlines()[-1])


def headers(account) -> dict:
    return {"Authorization": f"Bearer {account['api_key']}"}


def ctl_get(cluster, url: str, **kwargs) -> requests.Response:
    return cluster.in_ctl(requests.get, url, **{"timeout": 10, **kwargs})


def ctl_post(cluster, url: str, **kwargs) -> requests.Response:
    return cluster.in_ctl(requests.post, url, **{"timeout": 10, **kwargs})


def query(cluster, sql: str, *params):
    connection = cluster.db_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        connection.close()


def job_statuses(cluster, job_ids) -> Counter:
    rows = query(cluster, "SELECT status, count(*) FROM background_jobs WHERE id = ANY(%s) GROUP BY status",
                 list(job_ids))
    return Counter(dict(rows))


def test_both_web_hosts_start_on_an_empty_database_one_migrates_one_skips(cluster):
    started = time.monotonic()
    webs = {host: cluster.role(host, "web", RUN_MIGRATIONS="1") for host in ("web1", "web2")}
    for host, process in webs.items():
        cluster.wait_ready(host, process)
    cluster.roles.update(webs)
    logs = {host: process.log() for host, process in webs.items()}
    migrated = [host for host, log in logs.items() if "MIGRATIONS_DONE" in log]
    skipped = [host for host, log in logs.items() if "MIGRATIONS_SKIPPED" in log]
    report("migrations", tried="web1+web2 RUN_MIGRATIONS=1 on an empty database", migrated=",".join(migrated),
           skipped=",".join(skipped), both_ready_s=round(time.monotonic() - started, 1), lost=0)
    assert len(migrated) == 1 and len(skipped) == 1 and migrated != skipped, logs


def test_workers_and_schedulers_join_from_their_own_hosts(cluster):
    roles = {"wk1": cluster.role("wk1", "worker", "--queues", "default", *WORKER_MODULE),
             "wk2": cluster.role("wk2", "worker", "--queues", "default,recordings,high,low", *WORKER_MODULE),
             "sch1": cluster.role("sch1", "scheduler"), "sch2": cluster.role("sch2", "scheduler")}
    cluster.roles.update(roles)
    for host in ("wk1", "wk2"):
        cluster.wait_worker(roles[host])
    wait_for(lambda: all("SCHEDULER_STARTED" in roles[h].log() for h in ("sch1", "sch2")), 60, what="schedulers")
    wait_for(lambda: {"wk1", "wk2"} <= {entry.split(":")[0] for entry in registry(cluster)}, 30, interval=0.5,
             what="both worker hosts in the registry, under their own host names")


def registry(cluster) -> list[str]:
    import redis

    client = cluster.in_ctl(redis.Redis, host=cluster.network.address("db"), decode_responses=True)
    return list(cluster.in_ctl(client.hkeys, f"{cluster.namespace}:px:workers"))


def test_callback_at_web1_download_on_worker2_playback_byte_exact_from_web2(cluster, account):
    # Listening on 127.0.0.1 of host wk2 only (the run's fake-Twilio port, allowed by TWILIO_RECORDING_HOSTS).
    twilio = cluster.network.call_in("wk2", FakeTwilio, account_sid=os.environ["TWILIO_ACCOUNT_SID"],
                                     auth_token=os.environ["TWILIO_AUTH_TOKEN"])
    try:
        body = make_mp3(seconds=3, pitch=200)
        sid = twilio.add(account["business_id"], body=body)
        form = twilio.callback_form(sid)
        callback = cluster.web_url("web1") + callback_path(account["business_id"])
        started = time.monotonic()
        answer = ctl_post(cluster, callback, data=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio.sign(callback, form)})
        assert answer.status_code == 204, answer.text
        wait_for(lambda: query(cluster, "SELECT status FROM recordings WHERE recording_sid = %s", sid) == [("ready",)],
                 60, interval=0.5, what="the recording to be downloaded")
        downloaded_s = time.monotonic() - started
        url = f"{cluster.web_url('web2')}/api/calls/{form['CallSid']}/recording"
        whole = ctl_get(cluster, url, headers=headers(account))
        ranged = ctl_get(cluster, url, headers={**headers(account), "Range": "bytes=1000-4999"})
        suffix = ctl_get(cluster, url, headers={**headers(account), "Range": "bytes=-100"})
        keys = cluster.in_ctl(lambda: [o["Key"] for o in cluster.s3_client().list_objects_v2(
            Bucket=BUCKET, Prefix="recordings/").get("Contents", [])])
        local_files = [str(p) for p in (cluster.tmp / "hosts").rglob("*.mp3")]
        report("recording", tried="callback at web1, download on wk2, playback from web2 (full, 1000-4999, -100)",
               bytes=len(body), downloaded_s=round(downloaded_s, 1), twilio_requests=twilio.requests_for(sid),
               playback=f"{whole.status_code}/{ranged.status_code}/{suffix.status_code}", objects=len(keys),
               local_files=len(local_files), lost=int(whole.content != body))
        assert whole.status_code == 200 and whole.content == body
        assert ranged.status_code == 206 and ranged.content == body[1000:5000]
        assert suffix.status_code == 206 and suffix.content == body[-100:]
        assert twilio.requests_for(sid) == 1, "playback fetched the recording from Twilio again"
        assert f"recording_sid={sid}" in cluster.roles["wk2"].log() and "WORKER_DOWNLOAD_DONE" in cluster.roles[
            "wk2"].log()
        assert keys == [f"recordings/{account['business_id']}/{sid}.mp3"] and not local_files
    finally:
        twilio.close()


def counted(cluster, job_ids) -> dict:
    rows = query(cluster, "SELECT job_id, split_part(worker, ':', 1), count(*) FROM mh_counts WHERE job_id = ANY(%s) "
                          "GROUP BY 1, 2", list(job_ids))
    per_job, per_host = Counter(), Counter()
    for job_id, host, runs in rows:
        per_job[job_id] += runs
        per_host[host] += runs
    return {"per_job": per_job, "per_host": per_host}


def enqueue_counters(cluster, count: int) -> list[str]:
    made = cluster.python("ctl", "tests.multihost.enqueue", str(count))
    assert made.returncode == 0, made.stderr[-3000:]
    return json.loads(made.stdout.strip().splitlines()[-1])["job_ids"]


def test_worker_host1_loses_its_network_mid_run_and_finishes_nothing_twice(cluster):
    job_ids = enqueue_counters(cluster, 1000)
    wait_for(lambda: counted(cluster, job_ids)["per_host"]["wk1"] >= 50, 120, interval=0.3,
             what="worker host 1 to be working")
    cluster.network.link_down("wk1")
    down_at = time.monotonic()
    done_at_down = job_statuses(cluster, job_ids)["completed"]
    try:
        wait_for(lambda: job_statuses(cluster, job_ids)["completed"] == len(job_ids), 120, interval=1,
                 what="all 1,000 jobs to complete on worker host 2 within 2 minutes")
        all_done_s = time.monotonic() - down_at
        mid = counted(cluster, job_ids)
    finally:
        cluster.network.link_up("wk1")
    up_at = time.monotonic()
    wait_for(lambda: any(e.startswith("wk1:") for e in registry(cluster)), 60, interval=1,
             what="worker host 1 heartbeating again")
    rejoined_s = time.monotonic() - up_at
    time.sleep(10)  # time for anything host 1 still held to reach PostgreSQL
    final = counted(cluster, job_ids)
    redelivered = query(cluster, "SELECT count(*) FROM background_jobs WHERE id = ANY(%s) AND attempts > 1",
                        list(job_ids))[0][0]
    twice = {job: n for job, n in final["per_job"].items() if n > 1}
    never = [job for job in job_ids if final["per_job"][job] == 0]
    report("worker_partition", tried="wk1 link down mid-run of 1,000 tracked non-idempotent jobs",
           completed_before_link_down=done_at_down, all_completed_after_link_down_s=round(all_done_s, 1),
           runs_by_host=dict(mid["per_host"]), redelivered=redelivered, rejoined_registry_after_s=round(rejoined_s, 1),
           runs_after_return=sum(final["per_host"].values()) - sum(mid["per_host"].values()),
           fenced_on_wk1=cluster.roles["wk1"].log().count("MH_COUNT_FENCED"),
           already_counted_on_wk2=cluster.roles["wk2"].log().count("MH_COUNT_ALREADY"), finished_twice=len(twice),
           lost=len(never))
    assert cluster.roles["wk1"].alive(), "worker host 1 exited instead of coming back"
    assert not twice, f"jobs counted twice: {list(twice.items())[:5]}"
    assert not never, f"jobs never counted: {never[:5]}"


def fired_ticks(*processes) -> Counter:
    return Counter(match for process in processes
                   for match in re.findall(r"TICK_FIRED actor=(\S+) tick=(\S+)", process.log()))


def test_scheduler_host1_killed_host2_fires_each_tick_once(cluster):
    first, second = cluster.roles["sch1"], cluster.roles["sch2"]
    wait_for(lambda: len(fired_ticks(first, second)) >= 3, 60, interval=0.5, what="ticks from both schedulers")
    first.kill()
    killed_at = time.monotonic()
    before = len(fired_ticks(first, second))
    wait_for(lambda: len(fired_ticks(first, second)) >= before + 3, 60, interval=0.5,
             what="3 more ticks from scheduler host 2")
    ticks = fired_ticks(first, second)
    minutes = sorted({tick for actor, tick in ticks if actor == "reminders_tick"})
    report("scheduler_kill", tried="SIGKILL scheduler host 1", ticks_before_kill=before,
           ticks_after_kill=len(ticks) - before, next_tick_after_s=round(time.monotonic() - killed_at, 1),
           fired_twice=sum(1 for n in ticks.values() if n > 1), reminders_ticks=len(minutes), lost=0)
    assert not [t for t, n in ticks.items() if n > 1], f"ticks fired twice: {ticks}"
    assert not first.alive() and second.alive()


def test_web_host1_killed_web_host2_keeps_answering(cluster, account):
    cluster.roles["web1"].kill()
    killed_at = time.monotonic()
    answers, job_ids = Counter(), []
    for _ in range(30):
        answer = ctl_post(cluster, f"{cluster.web_url('web2')}/api/diagnostics/ping", json={"steps": 1, "step_ms": 10},
                          headers=headers(account))
        answers[answer.status_code] += 1
        if answer.status_code == 202:
            job_ids.append(answer.json()["job_id"])
    wait_for(lambda: job_statuses(cluster, job_ids)["completed"] == len(job_ids), 60, interval=0.5,
             what="the jobs web host 2 accepted to complete")
    refused = "refused"
    try:
        ctl_get(cluster, f"{cluster.web_url('web1')}/readyz", timeout=2)
    except requests.RequestException:
        refused = "unreachable"
    report("web_kill", tried="SIGKILL web host 1, 30 POSTs to web host 2", answers=dict(answers),
           completed=len(job_ids), web1=refused, seconds=round(time.monotonic() - killed_at, 1), lost=0)
    assert answers == Counter({202: 30})


def test_a_worker_host_removed_with_sigterm_drains_and_leaves_the_registry(cluster):
    leaving = cluster.roles["wk1"]
    job_ids = enqueue_counters(cluster, 200)
    wait_for(lambda: counted(cluster, job_ids)["per_host"]["wk1"] >= 10, 60, interval=0.3,
             what="worker host 1 to be working")
    leaving.process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    leaving.process.wait(60)
    drained_s = time.monotonic() - stopped_at
    wait_for(lambda: job_statuses(cluster, job_ids)["completed"] == len(job_ids), 60, interval=0.5,
             what="every job to complete")
    final = counted(cluster, job_ids)
    left = [e for e in registry(cluster) if e.startswith("wk1:")]
    report("worker_removed", tried="SIGTERM worker host 1 during 200 jobs", drained_s=round(drained_s, 1),
           exit_code=leaving.process.returncode, runs_by_host=dict(final["per_host"]), registry_wk1=len(left),
           finished_twice=sum(1 for n in final["per_job"].values() if n > 1),
           lost=sum(1 for j in job_ids if final["per_job"][j] == 0))
    assert leaving.process.returncode == 0 and "WORKER_STOPPED" in leaving.log()
    assert not left, f"worker host 1 is still in the registry: {left}"
    assert all(final["per_job"][j] == 1 for j in job_ids)
