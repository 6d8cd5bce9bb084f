"""Per-tenant load: GET /api/admin/tenants, the tenant pages and `prosaas info --tenants` while slot-limited jobs run."""
from prosaas.jobs import enqueue_tracked
from tests.machinery.helpers import marker, wait_status
from tests.support import sample_actors
from tests.support.processes import json_of, run_cli, wait_for


def _tenant(client, headers, business_id):
    answer = client.simulate_get("/api/admin/tenants", headers=headers)
    assert answer.status_code == 200, answer.text
    rows = answer.json["tenants"]
    return rows, next(row for row in rows if row["business_id"] == business_id)


def test_tenants_show_a_business_s_running_waiting_and_slots(worker_factory, client, admin_headers, make_business,
                                                             clean_queues):
    busy, idle = make_business("Busy tenant"), make_business("Idle tenant")
    worker_factory(queues="recordings", greenlets=10)
    mark = marker()
    jobs = [enqueue_tracked(sample_actors.limited, business_id=busy.id, kwargs={"marker": mark, "ms": 2500}).job_id
            for _ in range(8)]

    def three_running_five_waiting():
        rows, row = _tenant(client, admin_headers, busy.id)
        return (row["running"] == 3 and row["waiting_for_slot"] == 5
                and row["slots"]["limited"] == {"in_use": 3, "limit": 3}) and (rows, row)
    rows, row = wait_for(three_running_five_waiting, 30, interval=0.2, what="3 jobs running and 5 waiting")
    assert rows[0]["business_id"] == busy.id  # busiest first
    assert row["name"] == "Busy tenant" and row["queued"] == 5
    assert set(row) == {"business_id", "name", "queued", "running", "waiting_for_slot", "failed_24h",
                        "processed_24h", "slots"}
    quiet = next(r for r in rows if r["business_id"] == idle.id)
    assert quiet["running"] == 0 and quiet["slots"]["limited"] == {"in_use": 0, "limit": 3}

    page = client.simulate_get(f"/dashboard/tenants/{busy.id}", headers=admin_headers)
    assert page.status_code == 200
    assert 'data-actor="limited" data-in-use="3"' in page.text and "Busy tenant" in page.text
    listing = client.simulate_get("/dashboard/tenants", headers=admin_headers)
    assert listing.status_code == 200 and f'data-business-id="{busy.id}"' in listing.text
    text = run_cli("info", "--tenants")
    # The CLI does not load the test-only actor module: it sees the slots, not their limit.
    assert text.returncode == 0 and "limited=3/?" in text.stdout and "Busy tenant" in text.stdout, text.stdout
    as_json = json_of(run_cli("info", "--tenants", "--json"))
    assert as_json["tenants"][0]["business_id"] == busy.id

    for job_id in jobs:
        wait_status(job_id, "completed", timeout=60)
    _, row = _tenant(client, admin_headers, busy.id)
    assert row["processed_24h"] == 8 and row["failed_24h"] == 0 and row["slots"]["limited"]["in_use"] == 0
    assert client.simulate_get("/dashboard/tenants/999999", headers=admin_headers).status_code == 404
    assert client.simulate_get("/api/admin/tenants", headers=busy.headers).status_code == 403
