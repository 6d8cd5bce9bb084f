"""Engine and session handling that is safe under gevent and across forked processes."""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept the URLs users write and pin the psycopg2 driver (SQLAlchemy 2.1 defaults to psycopg 3)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def _tune_sqlite(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One engine per process for a URL; re-created lazily after fork so no socket is shared.

    >>> database = Database("sqlite:///var/prosaas.db")
    >>> with database.session() as session:
    ...     session.execute(text("select 1"))
    """

    def __init__(self, url: str, *, pool_size: int = 10):
        self.url = normalize_url(url)
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._relaxed_engine: Engine | None = None  # PostgreSQL: connections with synchronous_commit off
        self._autocommit_engine: Engine | None = None  # PostgreSQL: each statement its own transaction
        self._pid = None
        self._sessionmaker = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is None or self._pid != os.getpid():
                    for inherited in (self._engine, self._relaxed_engine, self._autocommit_engine):
                        if inherited is not None:
                            inherited.dispose(close=False)  # the parent's sockets stay the parent's
                    self._relaxed_engine = self._autocommit_engine = None
                    self._engine = self._make_engine()
                    self._sessionmaker = sessionmaker(self._engine, expire_on_commit=False)
                    self._pid = os.getpid()
        return self._engine

    @property
    def relaxed_engine(self) -> Engine:
        """PostgreSQL connections whose commits do not wait for the WAL flush (the same engine on SQLite)."""
        return self._variant_engine("_relaxed_engine", relaxed=True)

    @property
    def autocommit_engine(self) -> Engine:
        """PostgreSQL connections in autocommit: a statement is its own (durable) transaction, no BEGIN/COMMIT."""
        return self._variant_engine("_autocommit_engine", autocommit=True)

    def _variant_engine(self, attribute: str, **options) -> Engine:
        """A second engine of this process, made on first use (the main engine on SQLite)."""
        engine = self.engine  # re-creates them all after a fork
        if self.is_sqlite:
            return engine
        if getattr(self, attribute) is None:
            with self._lock:
                if getattr(self, attribute) is None:
                    setattr(self, attribute, self._make_engine(**options))
        return getattr(self, attribute)

    def _make_engine(self, *, relaxed: bool = False, autocommit: bool = False) -> Engine:
        if self.is_sqlite:
            engine = create_engine(self.url, connect_args={"timeout": 15, "check_same_thread": False})
            event.listen(engine, "connect", _tune_sqlite)
            return engine
        pool_size = min(self.pool_size, 4) if relaxed or autocommit else self.pool_size  # few hot writers
        # Autocommit set once per connection at connect (not per checkout, which costs a SET on return).
        options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
        return create_engine(
            self.url, pool_size=pool_size, max_overflow=pool_size * 2,
            # No pre-ping round trip per checkout: a connection found dead raises once and
            # SQLAlchemy then invalidates the whole pool (the job retries / the API answers 503).
            pool_pre_ping=False, pool_recycle=1800, pool_timeout=10,
            connect_args={"options": "-c synchronous_commit=off"} if relaxed else {}, **options,
        )

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        _ = self.engine
        session = self._sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextlib.contextmanager
    def transaction(self, *, relaxed_durability: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction, for hot paths that need no ORM unit of work.

        relaxed_durability: on PostgreSQL, commit without waiting for the WAL flush (on connections
        opened with synchronous_commit=off, so no extra statement per transaction): a server crash
        may lose the last fraction of a second of such commits, never corrupt them. Used for job
        state changes.
        """
        with (self.relaxed_engine if relaxed_durability else self.engine).begin() as connection:
            yield connection

    @contextlib.contextmanager
    def single_statements(self) -> Iterator[Connection]:
        """A Core connection whose every statement commits on its own (PostgreSQL autocommit, durably).

        For a write that is ONE statement (a multi-row INSERT is atomic by itself): one round trip instead of
        BEGIN, the statement and COMMIT. On SQLite, a transaction as `transaction()` gives.
        """
        if self.is_sqlite:
            with self.transaction() as connection:
                yield connection
            return
        with self.autocommit_engine.connect() as connection:
            yield connection

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("select 1"))

    def dispose(self) -> None:
        for engine in (self._engine, self._relaxed_engine, self._autocommit_engine):
            if engine is not None:
                engine.dispose()
        self._engine = self._relaxed_engine = self._autocommit_engine = None
