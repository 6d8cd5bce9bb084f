"""Settings: defaults for the embedded mode, and one clear line naming a bad setting."""
from prosaas.settings import Settings, load_settings
from tests.support.processes import run_cli


def test_embedded_defaults(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "PROSAAS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_redis_url.startswith("unix://") and settings.uses_embedded_redis
    assert settings.consumed_queues == ["high", "default", "low", "recordings", "maintenance", "broadcasts"]
    assert settings.recordings_per_business == 3 and settings.reminder_offsets == [30, 15, 5]


def test_bad_setting_names_itself(monkeypatch):
    monkeypatch.setenv("WORKER_QUEUES", "default,nosuchqueue")
    try:
        load_settings()
    except SystemExit as exc:
        assert "WORKER_QUEUES" in str(exc) and "nosuchqueue" in str(exc)
    else:
        raise AssertionError("bad WORKER_QUEUES accepted")


def test_cli_stops_at_start_with_one_line():
    result = run_cli("info", env={"REDIS_URL": "http://nope"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "prosaas: invalid setting REDIS_URL: Value error, must start with redis://, rediss:// or unix://"]


def test_sentinel_settings_are_checked_and_replace_the_embedded_server(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = Settings(_env_file=None, REDIS_SENTINELS="10.0.0.5:26379, 10.0.0.6:26380",
                        REDIS_SENTINEL_MASTER="main")
    assert settings.sentinel_addresses == (("10.0.0.5", 26379), ("10.0.0.6", 26380))
    assert not settings.uses_embedded_redis and settings.effective_redis_url == "redis://"
    for env, named in (({"REDIS_SENTINELS": "10.0.0.5:26379"}, "REDIS_SENTINEL_MASTER"),
                       ({"REDIS_SENTINELS": "10.0.0.5", "REDIS_SENTINEL_MASTER": "main"}, "REDIS_SENTINELS")):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        try:
            load_settings()
        except SystemExit as exc:
            assert named in str(exc)
        else:
            raise AssertionError(f"{env} accepted")


def test_the_replaced_systems_names_are_accepted_each_with_one_deprecation_line():
    result = run_cli("doctor", env={"SERVICE_ROLE": "api", "RQ_QUEUES": "high,default,receipts_sync,maintenance",
                                    "ENABLE_SCHEDULERS": "true", "WORKER_QUEUES": ""})
    assert result.returncode != 2, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("prosaas: deprecated:")]
    assert notes == ["prosaas: deprecated: SERVICE_ROLE=api is read as SERVICE_ROLE=web",
                     "prosaas: deprecated: RQ_QUEUES is read as WORKER_QUEUES; rename it",
                     "prosaas: deprecated: ENABLE_SCHEDULERS is ignored: periodic work runs only in the scheduler role",
                     "prosaas: deprecated: queue receipts_sync in the queue list is ignored: its work runs on "
                     "`maintenance`"]
    assert "valid (role web, queues high,default,maintenance)" in result.stdout
    assert "invalid setting" not in result.stderr


def test_the_realtime_calls_role_stops_with_one_line_saying_it_is_not_part_of_prosaas():
    result = run_cli("doctor", env={"SERVICE_ROLE": "calls"})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("prosaas: SERVICE_ROLE=calls: the realtime calls role") and "not part of prosaas" in line
