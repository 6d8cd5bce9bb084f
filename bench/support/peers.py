"""The peers of claim 5, each behind the same four calls: load N no-op jobs, start its workers, count what
is left, send one start-stamp job. Workers of every peer run in their own process group, ended by `stop`."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.support.drain import bulk_load, start_ours, start_raw, stop_process
from bench.support.env import REPO_ROOT

PROCESSES, GREENLETS = 2, 50


def spawn(args: list[str], env: dict, log_path) -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen(args, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


class Workers:
    """Processes (each the leader of its own group) started for one peer."""

    def __init__(self, processes: list, stop=None):
        self.processes = processes
        self._stop = stop

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        if self._stop:
            self._stop()
        for process in self.processes:
            stop_process(process)


class DramatiqRaw:
    name = "dramatiq"

    def __init__(self, ctx):
        self.ctx = ctx
        from bench.support import raw_actors

        self.actors = raw_actors

    def load(self, n):
        from dramatiq import Message

        bulk_load(self.ctx.client, self.ctx.raw_namespace, (Message(queue_name="default", actor_name="noop", args=(),
                                                                    kwargs={"n": i}, options={}) for i in range(n)))

    def start(self):
        return Workers([start_raw(self.ctx.raw_env, self.ctx.tmp, processes=PROCESSES, greenlets=GREENLETS)])

    def remaining(self):
        return self.ctx.client.hlen(f"{self.ctx.raw_namespace}:default.msgs")

    def send_stamp(self, sent):
        self.actors.stamp.send(sent=sent)


class Ours(DramatiqRaw):
    name = "untracked"

    def __init__(self, ctx):
        self.ctx = ctx
        from bench.support import actors

        self.actors = actors

    def load(self, n):
        bulk_load(self.ctx.client, self.ctx.namespace, (self.actors.noop.message(n=i) for i in range(n)))

    def start(self):
        role = start_ours(self.ctx.env, self.ctx.tmp, processes=PROCESSES, greenlets=GREENLETS)
        return Workers([role.process])

    def remaining(self):
        return self.ctx.client.hlen(f"{self.ctx.namespace}:default.msgs")


class OursTracked(Ours):
    name = "tracked"

    def load(self, n):
        from prosaas.jobs import enqueue_tracked

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: enqueue_tracked(self.actors.noop, business_id=self.ctx.business_id,
                                                    kwargs={"n": i}), range(n)))

    def send_stamp(self, sent):
        from prosaas.jobs import enqueue_tracked

        enqueue_tracked(self.actors.stamp, business_id=self.ctx.business_id, kwargs={"sent": sent})


class RQ:
    name = "rq"

    def __init__(self, ctx):
        from rq import Queue
        from rq.registry import FinishedJobRegistry

        self.ctx = ctx
        self.queue = Queue(f"{ctx.namespace}-rq", connection=ctx.client)
        self.finished = FinishedJobRegistry(queue=self.queue)
        self.loaded = 0

    def load(self, n):
        from rq import Queue

        with self.ctx.client.pipeline() as pipe:
            self.queue.enqueue_many([Queue.prepare_data("bench.support.rq_jobs.noop", kwargs={"n": i}, result_ttl=600)
                                     for i in range(n)], pipeline=pipe)
            pipe.execute()
        self.loaded += n

    def start(self):
        return Workers([spawn([sys.executable, "-m", "rq.cli", "worker", "--url", self.ctx.redis_url, self.queue.name],
                              self.ctx.stamp_env, self.ctx.tmp / "rq.log") for _ in range(PROCESSES)])

    def remaining(self):
        return self.loaded - self.finished.count

    def send_stamp(self, sent):
        self.queue.enqueue("bench.support.rq_jobs.stamp", sent=sent, result_ttl=600)
        self.loaded += 1


class Celery:
    """Celery 5 on the Redis broker, late acks, no results; prefork (2 processes) or gevent (2 x 50)."""

    def __init__(self, ctx, pool: str):
        self.ctx, self.pool = ctx, pool
        self.name = f"celery_{pool}"
        self.queue = f"{ctx.namespace}-celery-{pool}"
        self.env = {**ctx.stamp_env, "BENCH_CELERY_BROKER": ctx.redis_url, "BENCH_CELERY_QUEUE": self.queue}
        os.environ.update(self.env)
        from bench.support import celery_jobs

        self.jobs = celery_jobs
        celery_jobs.app.conf.task_default_queue = self.queue

    def load(self, n):
        with self.jobs.app.producer_or_acquire() as producer:
            for i in range(n):
                self.jobs.noop.apply_async(kwargs={"n": i}, queue=self.queue, producer=producer)

    def start(self):
        base = [sys.executable, "-m", "celery", "-A", "bench.support.celery_jobs", "worker", "-Q", self.queue,
                "-l", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if self.pool == "prefork":
            commands = [base + ["-P", "prefork", "-c", str(PROCESSES)]]
        else:
            commands = [base + ["-P", "gevent", "-c", str(GREENLETS), "-n", f"g{i}@%h"] for i in range(PROCESSES)]
        return Workers([spawn(c, self.env, self.ctx.tmp / f"{self.name}.log") for c in commands])

    def remaining(self):
        return self.ctx.client.llen(self.queue) + self.ctx.client.hlen("unacked")

    def send_stamp(self, sent):
        self.jobs.stamp.apply_async(kwargs={"sent": sent}, queue=self.queue)


class Procrastinate:
    """Procrastinate 3 (PostgreSQL only): 2 worker processes x concurrency 50."""

    name = "procrastinate"

    def __init__(self, ctx):
        import psycopg2

        self.ctx = ctx
        self.dsn = ctx.procrastinate_dsn
        self.env = {**ctx.stamp_env, "BENCH_PROCRASTINATE_DSN": self.dsn}
        os.environ.update(self.env)
        from bench.support import procrastinate_jobs

        self.jobs = procrastinate_jobs
        self.jobs.app.open()
        self.jobs.app.schema_manager.apply_schema()
        self.count = psycopg2.connect(self.dsn)
        self.count.autocommit = True

    def load(self, n):
        for start in range(0, n, 1000):
            self.jobs.noop.batch_defer(*({"n": i} for i in range(start, min(n, start + 1000))))

    def start(self):
        command = [sys.executable, "-m", "procrastinate", "--app=bench.support.procrastinate_jobs.app", "worker",
                   "--concurrency", str(GREENLETS)]
        return Workers([spawn(command, self.env, self.ctx.tmp / "procrastinate.log") for _ in range(PROCESSES)])

    def remaining(self):
        cursor = self.count.cursor()
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
        return cursor.fetchone()[0]

    def send_stamp(self, sent):
        self.jobs.stamp.defer(sent=sent)

    def close(self):
        self.count.close()
        self.jobs.app.close()


def wait_idle(seconds: float = 0.5) -> None:
    time.sleep(seconds)
