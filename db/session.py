"""Engine and session handling that is safe under gevent and across forked processes."""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
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
            pool_pre_ping=True, pool_recycle=1800, pool_timeout=10,
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

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("select 1"))

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
