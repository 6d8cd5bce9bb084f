"""`prosaas business list|rotate-key|disable` and the same under /api/admin/businesses, against a real web role."""
import json

import requests

from tests.support.processes import json_of, run_cli, start_web, wait_for


def _status(base, key) -> int:
    return requests.get(f"{base}/api/jobs", headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code


def test_rotate_key_from_the_cli_and_the_admin_api_retires_the_old_key(tmp_logs, admin_headers):
    web, base = start_web(tmp_logs)
    try:
        created = json_of(run_cli("business", "create", "Rotating Ltd", "--json"))
        business_id, first_key = created["business_id"], created["api_key"]
        assert _status(base, first_key) == 200  # now cached by the web process

        listed = json_of(run_cli("business", "list", "--json"))
        row = next(b for b in listed if b["id"] == business_id)
        assert row["name"] == "Rotating Ltd" and row["disabled"] is False and first_key not in json.dumps(listed)
        assert str(business_id) in run_cli("business", "list").stdout

        rotated = json_of(run_cli("business", "rotate-key", str(business_id), "--json"))
        second_key = rotated["api_key"]
        assert second_key != first_key and rotated["business_id"] == business_id
        wait_for(lambda: _status(base, first_key) == 401, 30, what="the old key refused")
        assert _status(base, second_key) == 200

        api_list = requests.get(f"{base}/api/admin/businesses", headers=admin_headers, timeout=30)
        assert api_list.status_code == 200 and business_id in {b["id"] for b in api_list.json()["businesses"]}
        by_api = requests.post(f"{base}/api/admin/businesses/{business_id}/rotate-key", headers=admin_headers,
                               timeout=30)
        assert by_api.status_code == 200, by_api.text
        third_key = by_api.json()["api_key"]
        wait_for(lambda: _status(base, second_key) == 401, 30, what="the second key refused")
        assert _status(base, third_key) == 200
        assert requests.post(f"{base}/api/admin/businesses/999999/rotate-key", headers=admin_headers,
                             timeout=30).status_code == 404
        assert run_cli("business", "rotate-key", "999999").returncode == 1
        # A business key never manages businesses.
        assert requests.get(f"{base}/api/admin/businesses", headers={"Authorization": f"Bearer {third_key}"},
                            timeout=30).status_code == 403
    finally:
        web.stop()


def test_disable_refuses_the_key_and_its_queued_jobs_never_start(tmp_logs, admin_headers, worker_factory,
                                                                 clean_queues):
    web, base = start_web(tmp_logs)
    try:
        created = json_of(run_cli("business", "create", "Closing Ltd", "--json"))
        headers = {"Authorization": f"Bearer {created['api_key']}"}
        queued = requests.post(f"{base}/api/diagnostics/ping", json={"steps": 1}, headers=headers, timeout=30)
        assert queued.status_code == 202  # no worker consumes `default` yet
        job_id = queued.json()["job_id"]

        disabled = run_cli("business", "disable", str(created["business_id"]))
        assert disabled.returncode == 0 and "disabled" in disabled.stdout, disabled.stderr
        refused = wait_for(lambda: (lambda r: r.json() if r.status_code == 401 else None)(
            requests.get(f"{base}/api/jobs", headers=headers, timeout=30)), 30, what="the key refused")
        assert "disabled" in refused["description"]
        listed = json_of(run_cli("business", "list", "--json"))
        assert next(b for b in listed if b["id"] == created["business_id"])["disabled"] is True

        worker = worker_factory(queues="default")
        wait_for(lambda: "JOB_SKIPPED" in worker.log() and job_id in worker.log(), 60,
                 what="the worker skipping the cancelled job")
        job = json_of(run_cli("jobs", "show", job_id))
        assert job["status"] == "cancelled" and job["attempts"] == 0, job

        other = json_of(run_cli("business", "create", "Other Ltd", "--json"))
        by_api = requests.post(f"{base}/api/admin/businesses/{other['business_id']}/disable", headers=admin_headers,
                               timeout=30)
        assert by_api.status_code == 200 and by_api.json()["disabled"] is True
        wait_for(lambda: _status(base, other["api_key"]) == 401, 30, what="the other key refused")
    finally:
        web.stop()
