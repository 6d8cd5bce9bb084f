"""Baseline WSGI apps served by the same gunicorn settings as `prosaas web`: hello-world and bare send()."""
from __future__ import annotations

import os

import dramatiq
import falcon
from dramatiq.brokers.redis import RedisBroker


class Hello:
    def on_get(self, req, resp):
        resp.media = {"hello": "world"}

    on_post = on_get


hello = falcon.App()
hello.add_route("/hello", Hello())

_broker = RedisBroker(url=os.environ.get("BENCH_RAW_REDIS_URL", "redis://127.0.0.1:6379/0"),
                      namespace=os.environ.get("BENCH_RAW_NAMESPACE", "bench-raw"))
dramatiq.set_broker(_broker)


@dramatiq.actor(queue_name="default")
def noop(n: int = 0) -> None:
    """Never run here: the endpoint only sends."""


class BareSend:
    def on_post(self, req, resp):
        noop.send()
        resp.status = falcon.HTTP_202
        resp.media = {"status": "queued"}


bare_send = falcon.App()
bare_send.add_route("/send", BareSend())
