"""Who may open the dashboard and its JSON, the login cookie, and CSRF on cookie-authenticated POSTs."""
from tests.machinery.helpers import start_job
from tests.support import sample_actors

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def test_without_credentials_a_browser_gets_the_login_page_and_a_script_gets_401(client):
    page = client.simulate_get("/dashboard", headers=BROWSER)
    assert page.status_code == 303 and page.headers["location"].endswith("/dashboard/login")
    login = client.simulate_get("/dashboard/login", headers=BROWSER)
    assert login.status_code == 200 and 'name="token"' in login.text
    assert client.simulate_get("/dashboard", headers={"Accept": "application/json"}).status_code == 401
    assert client.simulate_get("/api/admin/overview").status_code == 401
    assert client.simulate_get("/dashboard/sections").status_code == 401


def test_a_business_key_never_opens_the_dashboard(client, business):
    assert client.simulate_get("/dashboard", headers={**business.headers, **BROWSER}).status_code == 403
    assert client.simulate_get("/api/admin/overview", headers=business.headers).status_code == 403
    assert client.simulate_get("/dashboard/sections", headers=business.headers).status_code == 403
    assert client.simulate_get("/metrics", headers=business.headers).status_code == 403
    typed = client.simulate_post("/dashboard/login", body=f"token={business.api_key}", headers=FORM)
    assert typed.status_code == 403 and "business API key" in typed.text and "set-cookie" not in typed.headers


def test_login_sets_a_strict_http_only_cookie_that_opens_the_page(client, test_env):
    wrong = client.simulate_post("/dashboard/login", body="token=not-it", headers=FORM)
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    answer = client.simulate_post("/dashboard/login", body=f"token={test_env['ADMIN_TOKEN']}", headers=FORM)
    assert answer.status_code == 303 and answer.headers["location"].endswith("/dashboard")
    cookie = answer.cookies["prosaas_admin"]
    assert cookie.http_only and cookie.same_site.lower() == "strict" and cookie.path == "/"
    assert not cookie.secure  # plain http here; behind https (X-Forwarded-Proto) it is Secure
    secure = client.simulate_post("/dashboard/login", body=f"token={test_env['ADMIN_TOKEN']}",
                                  headers={**FORM, "X-Forwarded-Proto": "https"})
    assert secure.cookies["prosaas_admin"].secure
    assert test_env["ADMIN_TOKEN"] not in cookie.value  # the cookie is a session value, not the token
    assert client.simulate_get("/api/admin/overview",
                               headers={"Authorization": f"Bearer {cookie.value}"}).status_code == 401
    jar = {"prosaas_admin": cookie.value}
    page = client.simulate_get("/dashboard", cookies=jar, headers=BROWSER)
    assert page.status_code == 200 and 'id="queues"' in page.text and 'id="failed-jobs"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.simulate_get("/dashboard/sections", cookies=jar).status_code == 200
    assert client.simulate_get("/api/admin/overview", cookies=jar).status_code == 200
    out = client.simulate_post("/dashboard/logout", cookies=jar)
    assert out.status_code == 303 and out.cookies["prosaas_admin"].value == ""


def test_cookie_posts_need_the_csrf_header_bearer_posts_do_not(client, test_env, business, admin_headers,
                                                                clean_queues):
    job_id = start_job(sample_actors.record_run, business, marker="csrf")
    login = client.simulate_post("/dashboard/login", body=f"token={test_env['ADMIN_TOKEN']}", headers=FORM)
    jar = {"prosaas_admin": login.cookies["prosaas_admin"].value}
    forged = client.simulate_post(f"/api/jobs/{job_id}/cancel", cookies=jar)
    assert forged.status_code == 403 and "X-Requested-With" in forged.json["description"]
    from_page = client.simulate_post(f"/api/jobs/{job_id}/cancel", cookies=jar,
                                     headers={"X-Requested-With": "prosaas-dashboard"})
    assert from_page.status_code in (200, 202), from_page.text
    assert client.simulate_post("/api/admin/dead-letters/nope/requeue", cookies=jar).status_code == 403
    assert client.simulate_post("/api/admin/dead-letters/nope/requeue", headers=admin_headers).status_code == 404


def test_overview_json_holds_the_dashboard_picture(client, admin_headers, business, clean_queues):
    job_id = start_job(sample_actors.record_run, business, marker="overview")
    body = client.simulate_get("/api/admin/overview", headers=admin_headers).json
    assert set(body) >= {"health", "schedule", "jobs", "failed_jobs", "dead_letters", "generated_at"}
    assert body["health"]["queues"]["default"]["ready"] >= 1
    row = next(j for j in body["jobs"] if j["id"] == job_id)
    assert row["status"] == "queued" and row["business_id"] == business.id and row["progress"]["percent"] == 0
    # The page's own JSON is in the OpenAPI document; the HTML pages are not.
    paths = client.simulate_get("/openapi.json").json["paths"]
    assert "/api/admin/overview" in paths and "/dashboard" not in paths


def test_static_files_are_served_and_nothing_else(client):
    assert client.simulate_get("/dashboard/static/dashboard.js").status_code == 200
    assert client.simulate_get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert client.simulate_get("/dashboard/static/..%2Fapp.py").status_code == 404
    assert client.simulate_get("/dashboard/static/missing.js").status_code == 404


def test_the_admin_bearer_token_opens_the_page_and_leaves_a_cookie_for_its_polling(client, admin_headers):
    page = client.simulate_get("/dashboard", headers={**admin_headers, **BROWSER})
    assert page.status_code == 200 and 'id="workers"' in page.text
    assert page.cookies["prosaas_admin"].http_only
    assert client.simulate_get("/dashboard", headers={"Authorization": "Bearer wrong", **BROWSER}).status_code == 401


def test_ten_wrong_tokens_from_one_address_lock_its_guesses_for_a_while(client, test_env):
    attacker, other = "203.0.113.7", "203.0.113.8"
    for _ in range(10):
        wrong = client.simulate_post("/dashboard/login", body="token=guess", headers=FORM, remote_addr=attacker)
        assert wrong.status_code == 401
    locked = client.simulate_post("/dashboard/login", body="token=guess", headers=FORM, remote_addr=attacker)
    assert locked.status_code == 429 and locked.headers["retry-after"] == "300"
    assert "set-cookie" not in locked.headers and "try again" in locked.json["description"]
    # A lockout never refuses the right token (nobody can lock the operator out by guessing from its address).
    right = client.simulate_post("/dashboard/login", body=f"token={test_env['ADMIN_TOKEN']}", headers=FORM,
                                 remote_addr=attacker)
    assert right.status_code == 303
    elsewhere = client.simulate_post("/dashboard/login", body=f"token={test_env['ADMIN_TOKEN']}", headers=FORM,
                                     remote_addr=other)
    assert elsewhere.status_code == 303
