"""`make run` on a busy stack whose settings changed: a full restart, the embedded valkey stopped last, no job lost."""
import json
import re

import requests

from tests.lifecycle.test_make_lifecycle import alive, output, program_pids
from tests.support.processes import wait_for


def _stopped_order(supervisord_log: str) -> list[str]:
    return re.findall(r"stopped: (\S+) \(", supervisord_log)


def test_changed_settings_restart_every_role_with_redis_last_and_no_job_lost(make_install):
    install = make_install(REDIS_URL=None, ADMIN_TOKEN="first-admin-token-0123456789abcdef0123")  # embedded valkey
    first = install.make("run")
    assert first.returncode == 0, output(first)
    assert "redis" in program_pids(install.make("status").stdout)
    created = install.prosaas("business", "create", "Busy Ltd", "--json")
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {json.loads(created.stdout)['api_key']}"}
    job_ids = []
    for _ in range(24):
        answer = requests.post(f"{install.base_url}/api/diagnostics/ping", json={"steps": 4, "step_ms": 300},
                               headers=headers, timeout=30)
        assert answer.status_code == 202, answer.text
        job_ids.append(answer.json()["job_id"])
    old_supervisord = install.supervisord_pid()

    changed = install.make("run", env={"ADMIN_TOKEN": "second-admin-token-0123456789abcdef012"})
    assert changed.returncode == 0, output(changed)
    assert "settings differ" in changed.stderr and "ADMIN_TOKEN" in changed.stderr
    assert "second-admin-token" not in output(changed)  # names, never values
    assert install.supervisord_pid() != old_supervisord and not alive(old_supervisord)

    # The new environment reached the roles: supervisorctl restart would have kept the old token.
    health = f"{install.base_url}/api/jobs/health"
    assert requests.get(health, headers={"Authorization": "Bearer second-admin-token-0123456789abcdef012"}, timeout=30).status_code == 200
    assert requests.get(health, headers={"Authorization": "Bearer first-admin-token-0123456789abcdef0123"}, timeout=30).status_code in (401, 403)

    # The embedded valkey stopped after every role (it had started first).
    order = _stopped_order(install.log("supervisord"))
    assert order[-1] == "redis" and {"web", "worker", "worker-high", "scheduler"} <= set(order), order

    def statuses():
        return [requests.get(f"{install.base_url}/api/jobs/{job_id}", headers=headers, timeout=30).json()["status"]
                for job_id in job_ids]
    wait_for(lambda: all(status == "completed" for status in statuses()), 180, interval=1,
             what="every job enqueued before the restart completed")

    # Every worker that stopped deregistered: no ghost entry of a dead process is shown as a worker.
    info = install.prosaas("info", "--json")
    workers = json.loads(info.stdout)["health"]["workers"]
    assert workers and all(alive(worker["pid"]) for worker in workers), workers
