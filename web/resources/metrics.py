"""GET /metrics: Prometheus text from every process on this host, plus cluster-wide gauges read at scrape time."""
from __future__ import annotations

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from db import job_store
from prosaas.metrics import sweep_dead_processes
from prosaas.queue_pause import paused_queues
from prosaas.queue_stats import live_workers, queue_counts


class ClusterCollector:
    """Queue depths, dead letters, workers, slots and job rows: the same values from every web process.

    `runtime` is read for the counts; `broker` for its slot-limited actors and the slots they hold.
    """

    def __init__(self, runtime, broker):
        self.runtime = runtime
        self.broker = broker

    def slots_in_use(self) -> dict[str, int]:
        """Every slot-limited actor has a sample, 0 when idle."""
        limited = [actor.actor_name for actor in self.broker.actors.values() if actor.options.get("per_business")]
        return {**dict.fromkeys(limited, 0), **self.broker.slots.slots_in_use()}

    def collect(self):
        depth = GaugeMetricFamily("prosaas_queue_messages", "Messages per queue and state", labels=["queue", "state"])
        dead = GaugeMetricFamily("prosaas_dead_letters", "Dead-lettered messages per queue", labels=["queue"])
        paused = GaugeMetricFamily("prosaas_queue_paused", "1 while a queue is paused (workers take nothing)",
                                   labels=["queue"])
        paused_now = paused_queues(self.runtime.redis, self.runtime.keys)
        for queue, counts in queue_counts(self.runtime).items():
            paused.add_metric([queue], 1 if queue in paused_now else 0)
            for state in ("ready", "delayed", "waiting", "running"):
                depth.add_metric([queue, state], counts[state])
            dead.add_metric([queue], counts["dead_letters"])
        workers = GaugeMetricFamily("prosaas_workers_alive", "Worker processes with a fresh heartbeat")
        workers.add_metric([], sum(1 for w in live_workers(self.runtime) if w["alive"]))
        slots = GaugeMetricFamily("prosaas_business_slots_in_use", "Per-business slots held, by actor",
                                  labels=["actor"])
        for actor, count in self.slots_in_use().items():
            slots.add_metric([actor], count)
        yield from (depth, dead, paused, workers, slots)
        by_status = GaugeMetricFamily("prosaas_tracked_jobs", "Tracked job rows by status", labels=["status"])
        try:
            with self.runtime.database.session() as session:
                counts = job_store.count_by_status(session)
        except Exception:  # the database being down must not hide the broker's numbers
            counts = {}
        for status, count in sorted(counts.items()):
            by_status.add_metric([status], count)
        yield by_status


class Metrics:
    auth = "admin"

    def __init__(self, collector: ClusterCollector):
        self.collector = collector

    def on_get(self, req, resp):
        sweep_dead_processes()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self.collector)
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(registry)
        resp.status = falcon.HTTP_200
