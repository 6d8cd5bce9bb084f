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

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(tags=["health"], security={})
    def on_get(self, req, resp):
        """Database and broker reachable (503 otherwise)."""
        db_ok, db_detail = check_database(self.runtime.database)
        broker_ok, broker_detail = check_broker(self.runtime.redis)
        if not is_admin_token(bearer_token(req), self.runtime.settings.admin_token):
            db_detail, broker_detail = ("ok" if db_ok else "unavailable"), ("ok" if broker_ok else "unavailable")
        resp.media = {"ready": db_ok and broker_ok, "database": db_detail, "broker": broker_detail}
        if not (db_ok and broker_ok):
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "5")


class OpenApi:
    auth = "public"

    def on_get(self, req, resp):
        resp.media = api.spec
