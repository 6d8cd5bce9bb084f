"""`prosaas migrate` under a database-wide lock: concurrent runs never race, both exit 0."""
import os
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, inspect

from tests.support.environment import REPO_ROOT


def _fresh_database_url(tmp_path) -> tuple[str, callable]:
    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'fresh.db'}", lambda: None
    import psycopg2
    from sqlalchemy.engine import make_url

    name = f"prosaas_mig_{secrets.token_hex(4)}"
    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg2.connect(admin)
    connection.autocommit = True
    connection.cursor().execute(f'CREATE DATABASE "{name}"')

    def drop():
        connection.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False), drop


def _migrate(database_url: str, data_dir: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "PROSAAS_DATA_DIR": data_dir}
    return subprocess.run([sys.executable, "-m", "prosaas", "migrate"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.e2e
def test_two_migrations_at_once_one_migrates_the_other_skips(tmp_path):
    url, drop = _fresh_database_url(tmp_path)
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: _migrate(url, str(tmp_path)), range(2)))
        assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
        outcomes = sorted(r.stdout.strip() for r in results)
        assert outcomes == ["migrations: migrated", "migrations: skipped"], outcomes
        skipped = next(r for r in results if "skipped" in r.stdout)
        assert "MIGRATIONS_SKIPPED" in skipped.stderr
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
        assert {"businesses", "background_jobs"} <= set(inspect(engine).get_table_names())
        engine.dispose()
    finally:
        drop()


def test_migrations_have_one_head_so_new_revisions_chain():
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several Alembic heads {heads}: add a merge revision"
