"""The operators' dashboard: a server-rendered page that refreshes its own sections, its login form, its JSON.

`GET /dashboard` takes `Authorization: Bearer <ADMIN_TOKEN>` or the `prosaas_admin` cookie set by
the login form (a random session id kept in Redis for 12 hours, deleted at logout); the page polls
`GET /dashboard/sections` (the same templates, rendered again) and `GET /api/admin/overview` is the same
picture as JSON for scripts.
"""
from __future__ import annotations

import logging
from pathlib import Path

import falcon
from jinja2 import Environment, FileSystemLoader, select_autoescape

from db.businesses import business_for_key
from prosaas.overview import overview, parse_moment, relative_time
from prosaas.logs import log_event
from web.admin_access import FailedTokenCounter
from web.admin_sessions import SESSION_TTL_SECONDS, close_session, open_session
from web.auth import ADMIN_COOKIE, CSRF_HEADER, bearer_token, is_admin_cookie, is_admin_token
from web.spec import api

log = logging.getLogger("prosaas.dashboard")
WEB_DIR = Path(__file__).resolve().parents[1]
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
POLL_MS = 1000
# The page's own scripts and styles only; no framing (its buttons must not be clickjacked).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def short_time(value) -> str:
    moment = parse_moment(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


templates = Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)
templates.filters.update(ago=relative_time, when=short_time)


def render(resp, template: str, status=falcon.HTTP_200, **context) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.set_headers(SECURITY_HEADERS)
    resp.text = templates.get_template(template).render(csrf_header=CSRF_HEADER, **context)


def _wants_html(req) -> bool:
    return req.client_prefers(["application/json", "text/html"]) == "text/html"


def _set_admin_cookie(runtime, req, resp) -> None:
    """A new server-side session (never a value derived from the token) in an HttpOnly, Strict cookie."""
    resp.set_cookie(ADMIN_COOKIE, open_session(runtime), max_age=SESSION_TTL_SECONDS, path="/",
                    http_only=True, same_site="Strict", secure=req.forwarded_scheme == "https")


def _is_business_key(runtime, token: str) -> bool:
    with runtime.database.session() as session:
        return business_for_key(session, token) is not None


class DashboardPage:
    auth = "public"  # it answers a login page (or 401 JSON) itself instead of a bare 401

    def __init__(self, runtime):
        self.runtime = runtime

    def on_get(self, req, resp):
        runtime = self.runtime
        admin_token = runtime.settings.admin_token
        token = bearer_token(req)
        if token is not None and not is_admin_token(token, admin_token):
            if _is_business_key(runtime, token):
                raise falcon.HTTPForbidden(title="Forbidden", description="The dashboard needs the admin token.")
            failures = FailedTokenCounter(runtime)
            failures.refuse_if_locked(req)
            failures.record_failure(req, "dashboard")
            raise falcon.HTTPUnauthorized(title="Unauthorized", description="Unknown token.", challenges=["Bearer"])
        has_session = is_admin_cookie(req, runtime)
        if token is None and not has_session:
            if not _wants_html(req):
                raise falcon.HTTPUnauthorized(title="Unauthorized", description="Send 'Authorization: Bearer "
                                              "<ADMIN_TOKEN>' or log in at /dashboard/login.",
                                              challenges=["Bearer"])
            raise falcon.HTTPSeeOther("/dashboard/login")
        if token is not None and not has_session:
            _set_admin_cookie(runtime, req, resp)  # so the page's own polling is authenticated too
        render(resp, "dashboard.html", picture=overview(runtime), poll_ms=POLL_MS)


class DashboardSections:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    def on_get(self, req, resp):
        render(resp, "_sections.html", picture=overview(self.runtime))


class DashboardLogin:
    auth = "public"

    def __init__(self, runtime):
        self.runtime = runtime

    def on_get(self, req, resp):
        render(resp, "login.html", error=None)

    def on_post(self, req, resp):
        runtime = self.runtime
        form = req.get_media(default_when_empty={}) if req.content_length else {}
        if not isinstance(form, dict) or not isinstance(form.get("token", ""), str):
            raise falcon.HTTPUnprocessableEntity(title="Invalid request",
                                                 description="Send the form field `token` (one text value).")
        token = form.get("token", "").strip()
        failures = FailedTokenCounter(runtime)
        if is_admin_token(token, runtime.settings.admin_token):  # a lockout never refuses the right token
            failures.clear(req)
            _set_admin_cookie(runtime, req, resp)
            log_event(log, logging.INFO, "DASHBOARD_LOGIN", remote=failures.address(req))
            raise falcon.HTTPSeeOther("/dashboard")
        failures.refuse_if_locked(req)
        failures.record_failure(req, "login")
        if not runtime.settings.admin_token:
            render(resp, "login.html", falcon.HTTP_401, error="ADMIN_TOKEN is not set on this deployment: "
                                                              "nobody can open the dashboard.")
            return
        if token and _is_business_key(runtime, token):
            render(resp, "login.html", falcon.HTTP_403, error="That is a business API key; "
                                                              "the dashboard needs the admin token.")
            return
        render(resp, "login.html", falcon.HTTP_401, error="Wrong admin token.")


class DashboardLogout:
    auth = "public"

    def __init__(self, runtime):
        self.runtime = runtime

    def on_post(self, req, resp):
        for session_id in req.get_cookie_values(ADMIN_COOKIE) or []:
            close_session(self.runtime, session_id)  # the cookie stops working everywhere, not just here
        resp.unset_cookie(ADMIN_COOKIE, path="/")
        raise falcon.HTTPSeeOther("/dashboard/login")


class DashboardStatic:
    auth = "public"

    def on_get(self, req, resp, name: str):
        path = (WEB_DIR / "static" / name).resolve()
        if path.parent != (WEB_DIR / "static").resolve() or path.suffix not in STATIC_TYPES or not path.is_file():
            raise falcon.HTTPNotFound(title="Not found", description=f"No static file {name}.")
        resp.content_type = STATIC_TYPES[path.suffix]
        resp.cache_control = ["no-cache"]
        resp.data = path.read_bytes()


class Overview:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(tags=["ops"])
    def on_get(self, req, resp):
        """Health, periodic schedule, active and recent jobs, failed jobs, dead letters: the dashboard as JSON."""
        resp.media = overview(self.runtime)
