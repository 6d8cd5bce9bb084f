"""Counts HTTP requests by route template and status for /metrics."""
from __future__ import annotations

import time

import falcon

from prosaas.metrics import metrics

MAX_CACHED_SERIES = 1_000  # (route, method, status) triples; a client choosing odd methods cannot grow it past this


class HttpMetricsMiddleware:
    """Per request: one count by route, method and status, and the time by route.

    The labelled series are looked up once per (route, method, status) and kept: prometheus_client's
    `labels()` checks and locks on every call.
    """

    def __init__(self):
        self._series: dict[tuple[str, str, int], tuple] = {}

    def process_request(self, req, resp):
        req.context.started = time.perf_counter()

    def process_response(self, req, resp, resource, req_succeeded):
        count, duration = self._series_for(req.uri_template or "unmatched", req.method,
                                           falcon.http_status_to_code(resp.status))
        count.inc()
        started = getattr(req.context, "started", None)
        if started is not None:
            duration.observe(time.perf_counter() - started)

    def _series_for(self, route: str, method: str, status: int) -> tuple:
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= MAX_CACHED_SERIES:
                self._series.clear()
            found = metrics()
            series = self._series[key] = (found["http"].labels(route, method, str(status)),
                                          found["http_duration"].labels(route))
        return series
