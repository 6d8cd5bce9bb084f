"""The API-key cache of web/auth.py under concurrent requests: one revision check, one lookup per key at a time."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, text

from tests.support.processes import wait_for
from web.auth import KeyCache


def test_the_keys_revision_is_asked_by_one_request_while_the_others_use_the_cache():
    asked, release = [], threading.Event()

    def revision():
        asked.append(threading.current_thread().name)
        if len(asked) == 1:
            release.wait(10)  # the first asker is slow (a Redis round trip)
        return 1

    cache = KeyCache(revision=revision, revision_check_seconds=1.0)
    cache.put("d" * 64, (7, "UTC"))
    first = threading.Thread(target=cache.get, args=("d" * 64,), name="first")
    first.start()
    wait_for(lambda: asked, 10, what="the first revision check")
    others = [cache.get("d" * 64) for _ in range(5)]  # meanwhile: answered from the cache, nobody asks again
    release.set()
    first.join(10)
    assert asked == ["first"] and others == [(7, "UTC")] * 5


def count_key_lookups(engine):
    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if "FROM businesses" in statement and "api_key_hash" in statement:
            seen.append(statement)
    event.listen(engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(engine, "before_cursor_execute", before)


def test_requests_with_a_key_not_yet_cached_look_it_up_once(client, make_business, runtime, clean_queues):
    if runtime.database.is_sqlite:
        pytest.skip("holds every lookup with PostgreSQL's LOCK TABLE, which SQLite does not have")
    business = make_business()  # a new key: no worker of this app has it cached
    lookups, stop_counting = count_key_lookups(runtime.database.engine)
    holder = runtime.database.engine.connect()
    transaction = holder.begin()
    holder.execute(text("LOCK TABLE businesses IN ACCESS EXCLUSIVE MODE"))  # every lookup waits on this
    answers, started = [], []

    def post():
        started.append(1)
        answers.append(client.simulate_post("/api/diagnostics/ping", json={}, headers=business.headers).status_code)
    threads = [threading.Thread(target=post) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()

        def waiting_on_the_lock():
            with runtime.database.engine.connect() as probe:
                return probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                          "AND datname = current_database()")).scalar()
        wait_for(lambda: len(started) == 8 and waiting_on_the_lock() >= 1, 10, what="a lookup waiting")
        threading.Event().wait(0.5)  # the other requests reach auth meanwhile (none may reach the database)
        in_database = waiting_on_the_lock()
    finally:
        transaction.rollback()
        holder.close()
        for thread in threads:
            thread.join(30)
        stop_counting()
    assert answers == [202] * 8
    assert in_database == 1 and len(lookups) == 1
