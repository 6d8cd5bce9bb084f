"""Shared fixtures: a private database and Redis namespace per run, businesses, clients, real roles."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.environment import TestEnvironment

# Dramatiq's own middleware tests, kept for tests/upstream/run_upstream.py; they run only there.
collect_ignore = ["upstream/vendored"]

_environment: TestEnvironment | None = None
_env: dict = {}


def _is_xdist_controller(config) -> bool:
    """`pytest -n N`: this process only hands tests to N workers, each of which sets up its own environment."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


def pytest_configure(config):
    global _environment, _env
    if _is_xdist_controller(config):
        return
    # Each xdist worker is a process of its own: TestEnvironment keys its database and namespace on the pid.
    _environment = TestEnvironment()
    _env = _environment.apply()
    from db.migrate import run_migrations

    run_migrations(_env["DATABASE_URL"], lock_dir=Path(_env["PROSAAS_DATA_DIR"]))
    # As a role entry point does, before any test module imports `actors` (declared on this broker).
    from prosaas.broker_stack import install_broker
    from prosaas.runtime import get_runtime

    install_broker(get_runtime())


def pytest_unconfigure(config):
    if _environment is None:
        return
    try:
        from prosaas.runtime import get_runtime

        get_runtime().database.dispose()
    except Exception:
        pass
    _environment.cleanup_redis(_env["REDIS_URL"], _env["PROSAAS_REDIS_NAMESPACE"])
    _environment.drop_database()


@pytest.fixture(scope="session")
def test_env() -> dict:
    return dict(_env)


@pytest.fixture(scope="session")
def runtime():
    from prosaas.runtime import get_runtime

    return get_runtime()


@pytest.fixture(scope="session")
def broker():
    import actors  # noqa: F401
    import tests.support.sample_actors  # noqa: F401
    from prosaas.broker_stack import installed_broker

    return installed_broker()


@pytest.fixture(autouse=True)
def forget_wrong_tokens(runtime):
    """Each test starts with no wrong-token count: the testing client's address is the same for every test."""
    import redis

    try:
        for key in runtime.redis.scan_iter(match=runtime.keys("auth", "token-failures", "*")):
            runtime.redis.delete(key)
    except redis.RedisError:
        pass
    yield


@pytest.fixture
def clean_queues(broker, runtime):
    """Empty every queue (and dead letters) before and after a test that counts messages."""
    def flush():
        broker.flush_all()
        runtime.redis.delete(runtime.keys("paused_queues"))  # no queue stays paused (prosaas/queue_pause.py)
        for pattern in ("slots", "waiting"):
            for key in runtime.redis.scan_iter(match=runtime.keys(pattern, "*")):
                runtime.redis.delete(key)
        # The reconciler's lease outlives the worker that took it (it paces runs cluster-wide): a test's
        # first worker must not wait for the previous test's lease to expire.
        runtime.redis.delete(runtime.keys("reconciler", "lock"))
    flush()
    yield
    flush()


class Business:
    def __init__(self, business_id: int, api_key: str):
        self.id = business_id
        self.api_key = api_key

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def make_business(runtime):
    from db.businesses import create_business

    def make(name: str = "Test business", timezone: str = "UTC") -> Business:
        with runtime.database.session() as session:
            business, key = create_business(session, name, timezone)
            return Business(business.id, key)
    return make


@pytest.fixture
def business(make_business) -> Business:
    return make_business()


@pytest.fixture
def admin_headers(test_env) -> dict:
    return {"Authorization": f"Bearer {test_env['ADMIN_TOKEN']}"}


@pytest.fixture(scope="session")
def app(broker):
    from web.app import create_app

    return create_app()


@pytest.fixture
def client(app):
    from falcon import testing

    return testing.TestClient(app)


@pytest.fixture
def tmp_logs(tmp_path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def worker_factory(tmp_logs):
    """Start real `prosaas worker` subprocesses; all are stopped at the end of the test."""
    from tests.support.processes import start_worker

    started = []

    def start(**kwargs):
        role = start_worker(tmp_logs, **kwargs)
        started.append(role)
        return role
    yield start
    for role in started:
        role.stop(timeout=30)


@pytest.fixture
def web_server(tmp_logs):
    from tests.support.processes import start_web

    role, base = start_web(tmp_logs)
    yield base
    role.stop()


@pytest.fixture
def redis_marks(runtime):
    """Read what the sample actors recorded."""
    from tests.support import sample_actors

    class Marks:
        def runs(self, marker):
            return runtime.redis.llen(sample_actors.mark("runs", marker))

        def finished(self, marker):
            return runtime.redis.llen(sample_actors.mark("finished", marker))

        def key(self, *parts):
            return sample_actors.mark(*parts)
    return Marks()


# Fixtures that start real role subprocesses: a test using one takes seconds, not milliseconds.
ROLE_FIXTURES = {"worker_factory", "web_server", "module_worker", "messaging_worker", "recordings_worker",
                 "make_install"}


def _heaviness(item) -> int:
    if any(m.name in ("chaos", "e2e", "browser", "upstream") for m in item.iter_markers()):
        return 0
    return 1 if ROLE_FIXTURES & set(item.fixturenames) else 2


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """xdist hands tests out by node id: items sharing one (schemathesis gives all of an operation test's
    cases one) would run once for all, silently. `make test` runs tests/fuzz in a pass of its own."""
    repeated = sorted({nodeid for nodeid in ids if ids.count(nodeid) > 1})
    if repeated:
        raise pytest.UsageError(f"under pytest-xdist these would run once for all their cases: {repeated}; "
                                "run them in a pass without -n")


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):
        # `make test` (xdist, --dist loadfile --no-loadscope-reorder): workers take whole files in this order,
        # the longest first, so that no long file starts last and runs alone at the end. A file's own order
        # stays: some tests rely on a module-scoped worker being gone (or not started yet).
        file_heaviness: dict = {}
        for item in items:
            file_heaviness[item.path] = min(file_heaviness.get(item.path, 2), _heaviness(item))
        position = {id(item): index for index, item in enumerate(items)}
        items.sort(key=lambda item: (file_heaviness[item.path], position[id(item)]))
        return
    # Chaos and browser tests are slowest: run them last so quick failures show first.
    order = {"chaos": 2, "browser": 3}
    items.sort(key=lambda item: max([order.get(m.name, 0) for m in item.iter_markers()] or [0]))


os.environ.setdefault("PYTHONUNBUFFERED", "1")


@pytest.fixture
def roles_logging():
    """configure_logging(level INFO, format) into a buffer, as the roles set it up; returns the buffer. The root
    logger's handlers and level are restored afterwards."""
    import io
    import logging

    from prosaas.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def configure(fmt: str) -> io.StringIO:
        buffer = io.StringIO()
        configure_logging("INFO", fmt, stream=buffer)
        return buffer
    yield configure
    root.handlers[:], level = saved
    root.setLevel(level)
