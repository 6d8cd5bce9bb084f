"""GET /metrics: Prometheus text from every process on this host, plus queue-level gauges from Redis."""
from __future__ import annotations

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from prosaas.queue_stats import live_workers, queue_counts


class QueueCollector:
    """Collected at scrape time, so every web process reports the same cluster-wide values."""

    def __init__(self, slots_in_use):
        self.slots_in_use = slots_in_use

    def collect(self):
        depth = GaugeMetricFamily("prosaas_queue_messages", "Messages per queue and state", labels=["queue", "state"])
        dead = GaugeMetricFamily("prosaas_dead_letters", "Dead-lettered messages per queue", labels=["queue"])
        for queue, counts in queue_counts().items():
            for state in ("ready", "delayed", "running"):
                depth.add_metric([queue, state], counts[state])
            dead.add_metric([queue], counts["dead_letters"])
        workers = GaugeMetricFamily("prosaas_workers_alive", "Worker processes with a fresh heartbeat")
        workers.add_metric([], sum(1 for w in live_workers() if w["alive"]))
        slots = GaugeMetricFamily("prosaas_business_slots_in_use", "Per-business slots held, by actor",
                                  labels=["actor"])
        for actor, count in self.slots_in_use().items():
            slots.add_metric([actor], count)
        yield from (depth, dead, workers, slots)


class Metrics:
    auth = "admin"

    def __init__(self, slots_in_use):
        self.collector = QueueCollector(slots_in_use)

    def on_get(self, req, resp):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self.collector)
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(registry)
        resp.status = falcon.HTTP_200


def register(app, runtime):
    from prosaas.broker import broker, middleware_of
    from prosaas.middleware.slots import BusinessSlots

    app.add_route("/metrics", Metrics(middleware_of(broker, BusinessSlots).slots_in_use))
