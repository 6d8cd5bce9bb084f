"""Counts HTTP requests by route template and status for /metrics."""
from __future__ import annotations

import time

import falcon

from prosaas.metrics import metrics


class HttpMetricsMiddleware:
    def process_request(self, req, resp):
        req.context.started = time.perf_counter()

    def process_response(self, req, resp, resource, req_succeeded):
        route = req.uri_template or "unmatched"
        found = metrics()
        found["http"].labels(route, req.method, str(falcon.http_status_to_code(resp.status))).inc()
        started = getattr(req.context, "started", None)
        if started is not None:
            found["http_duration"].labels(route).observe(time.perf_counter() - started)
