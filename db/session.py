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
                    if self._engine is not None:
                        self._engine.dispose(close=False)  # the parent's sockets stay the parent's
                    self._engine = self._make_engine()
                    self._sessionmaker = sessionmaker(self._engine, expire_on_commit=False)
                    self._pid = os.getpid()
        return self._engine

    def _make_engine(self) -> Engine:
        if self.is_sqlite:
            engine = create_engine(self.url, connect_args={"timeout": 15, "check_same_thread": False})
            event.listen(engine, "connect", _tune_sqlite)
            return engine
        return create_engine(
            self.url, pool_size=self.pool_size, max_overflow=self.pool_size * 2,
            # No pre-ping round trip per checkout: a connection found dead raises once and
            # SQLAlchemy then invalidates the whole pool (the job retries / the API answers 503).
            pool_pre_ping=False, pool_recycle=1800, pool_timeout=10,
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

        relaxed_durability: on PostgreSQL, commit without waiting for the WAL flush
        (synchronous_commit=off for this transaction only): a server crash may lose the last
        fraction of a second of such commits, never corrupt them. Used for job state changes.
        """
        with self.engine.begin() as connection:
            if relaxed_durability and not self.is_sqlite:
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield connection

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("select 1"))

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
