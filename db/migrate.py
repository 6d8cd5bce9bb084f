"""The locked migration runner: one process migrates, the others log MIGRATIONS_SKIPPED and go on."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock, Timeout
from sqlalchemy import create_engine, pool, text

from db.session import normalize_url

log = logging.getLogger("prosaas.migrate")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 0x70726F73  # "pros"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def pending_revisions(url: str) -> list[str]:
    """Revisions in the code that the database has not applied yet."""
    script = ScriptDirectory.from_config(alembic_config(url))
    engine = create_engine(normalize_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            applied = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    wanted = {rev.revision for rev in script.walk_revisions()}
    done = set()
    for head in applied:
        done.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    return sorted(wanted - done)


def run_migrations(url: str, *, lock_dir: Path, wait_seconds: float = 10.0) -> str:
    """Upgrade to every head under a database-wide lock. Returns 'migrated' or 'skipped'.

    A process that finds the lock held keeps trying for `wait_seconds`, then logs MIGRATIONS_SKIPPED
    and returns; one that gets the lock after another process migrated finds nothing to do and skips too.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _run_with_file_lock(url, lock_dir / "migrate.lock", wait_seconds)
    return _run_with_advisory_lock(url, wait_seconds)


def _up_to_date(url: str, connection=None) -> bool:
    script = ScriptDirectory.from_config(alembic_config(url))
    if connection is None:
        engine = create_engine(normalize_url(url), poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                heads = set(MigrationContext.configure(conn).get_current_heads())
        finally:
            engine.dispose()
    else:
        heads = set(MigrationContext.configure(connection).get_current_heads())
    return heads == set(script.get_heads())


def _upgrade(url: str, connection=None) -> None:
    config = alembic_config(url)
    if connection is not None:
        config.attributes["connection"] = connection
    command.upgrade(config, "heads")


def _run_with_file_lock(url: str, lock_path: Path, wait_seconds: float) -> str:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path), timeout=wait_seconds):
            if _up_to_date(url):
                log.info("MIGRATIONS_SKIPPED reason=up_to_date")
                return "skipped"
            _upgrade(url)
    except Timeout:
        log.warning("MIGRATIONS_SKIPPED reason=lock_held lock=%s", lock_path)
        return "skipped"
    log.info("MIGRATIONS_DONE backend=sqlite")
    return "migrated"


def _run_with_advisory_lock(url: str, wait_seconds: float) -> str:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            deadline = time.monotonic() + wait_seconds
            while not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar():
                if time.monotonic() >= deadline:
                    log.warning("MIGRATIONS_SKIPPED reason=lock_held waited_s=%.1f", wait_seconds)
                    return "skipped"
                time.sleep(0.25)
            try:
                connection.commit()
                if _up_to_date(url, connection):
                    log.info("MIGRATIONS_SKIPPED reason=up_to_date")
                    return "skipped"
                _upgrade(url, connection)
                connection.commit()
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                connection.commit()
    finally:
        engine.dispose()
    log.info("MIGRATIONS_DONE backend=postgresql")
    return "migrated"
