"""Shared checks of the chaos suite: job rows by status, a load generator that records every answer."""
from __future__ import annotations

import threading
import time
from collections import Counter

import requests
from sqlalchemy import select

from db.models.core import BackgroundJob


def statuses(database, job_ids) -> dict[str, str]:
    found = {}
    ids = list(job_ids)
    with database.session() as session:
        for start in range(0, len(ids), 500):
            found.update(session.execute(select(BackgroundJob.id, BackgroundJob.status)
                                         .where(BackgroundJob.id.in_(ids[start:start + 500]))).all())
    return found


def rows(database, job_ids) -> list:
    with database.session() as session:
        return list(session.scalars(select(BackgroundJob).where(BackgroundJob.id.in_(list(job_ids)))))


def all_completed(database, job_ids) -> bool:
    found = statuses(database, job_ids)
    return len(found) == len(job_ids) and all(s == "completed" for s in found.values())


def report(scenario: str, **figures) -> None:
    print(f"\nCHAOS {scenario} " + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


class Poster:
    """POSTs diagnostic pings from a few threads until stopped; keeps every answer (status, job id, time)."""

    def __init__(self, base: str, headers: dict, *, threads: int = 4, pause: float = 0.02,
                 body: dict | None = None, keepalive: bool = True):
        self.base = base
        self.headers = headers
        self.body = body if body is not None else {"steps": 1, "step_ms": 50}
        self.pause = pause
        self.keepalive = keepalive
        self.answers: list[tuple] = []  # (answered at, status, job id, sent at)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> "Poster":
        for thread in self._threads:
            thread.start()
        return self

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            if not self.keepalive:
                session.close()
                session = requests.Session()
            sent = time.monotonic()
            try:
                response = session.post(f"{self.base}/api/diagnostics/ping", json=self.body, headers=self.headers,
                                        timeout=30)
                job_id = response.json().get("job_id") if response.status_code == 202 else None
                answer = (time.monotonic(), response.status_code, job_id, sent)
            except requests.RequestException as exc:  # refused while a server restarts: not an answer
                text = str(exc).lower()
                kind = ("refused" if "refused" in text else
                        "closed_without_response" if "without response" in text or "reset" in text or "aborted" in text
                        else type(exc).__name__)
                answer = (time.monotonic(), kind, None, sent)
                session = requests.Session()
                time.sleep(0.05)
            with self._lock:
                self.answers.append(answer)
            time.sleep(self.pause)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def retarget(self, base: str) -> None:
        self.base = base

    def counts(self) -> Counter:
        return Counter(answer[1] for answer in self.answers)

    def accepted(self) -> list[str]:
        return [answer[2] for answer in self.answers if answer[1] == 202]

    def between(self, start: float, end: float) -> list:
        """Statuses of requests sent after `start` and answered before `end`."""
        return [answer[1] for answer in self.answers if answer[3] > start and answer[0] < end]

    def server_errors(self) -> list:
        return [a for a in self.answers if isinstance(a[1], int) and a[1] >= 500 and a[1] != 503]
