"""Liveness, readiness and the OpenAPI document."""
from __future__ import annotations

import falcon

from prosaas.health import check_broker, check_database
from web.auth import bearer_token, is_admin_token
from web.spec import api


class Liveness:
    auth = "public"

    @api.validate(tags=["health"], security={})
    def on_get(self, req, resp):
        """The process is alive."""
        resp.media = {"status": "alive"}


class Readiness:
    """Public: `ok` or `unavailable` per component. With the admin token: the error of each (hosts included)."""

    auth = "public"

    @api.validate(tags=["health"], security={})
    def on_get(self, req, resp):
        """Database and broker reachable (503 otherwise)."""
        runtime = req.context.runtime
        db_ok, db_detail = check_database(runtime)
        broker_ok, broker_detail = check_broker(runtime)
        if not is_admin_token(bearer_token(req), runtime.settings.admin_token):
            db_detail, broker_detail = ("ok" if db_ok else "unavailable"), ("ok" if broker_ok else "unavailable")
        resp.media = {"ready": db_ok and broker_ok, "database": db_detail, "broker": broker_detail}
        if not (db_ok and broker_ok):
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "5")


class OpenApi:
    auth = "public"

    def on_get(self, req, resp):
        resp.media = api.spec


def register(app, runtime):
    app.add_route("/healthz", Liveness())
    app.add_route("/readyz", Readiness())
    app.add_route("/openapi.json", OpenApi())
