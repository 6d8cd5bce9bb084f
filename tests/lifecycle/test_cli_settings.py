"""The CLI finds its install from any directory and reads the running stack's settings; prosaas.env precedence;
`prosaas reload` (systemd's ExecReload) picks up an edited prosaas.env."""
import json
import os
import signal
import subprocess

import requests

from tests.lifecycle.test_make_lifecycle import output


def run_database_scheme() -> str:
    """`database <scheme>:` as the CLI's first line names the run's database (PostgreSQL in CI, SQLite without)."""
    from prosaas.runtime import get_runtime

    return "database sqlite:" if get_runtime().database.is_sqlite else "database postgresql://"
from tests.support.processes import free_port, wait_for

STACK_ONLY = ("DATABASE_URL", "REDIS_URL", "PROSAAS_REDIS_NAMESPACE")


def test_cli_from_another_directory_and_a_bare_shell_talks_to_the_running_stack(make_install, tmp_path):
    install = make_install()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert install.make("run").returncode == 0

    created = install.prosaas("business", "create", "Elsewhere Ltd", "--json", cwd=elsewhere, unset=STACK_ONLY)
    assert created.returncode == 0, created.stderr
    assert run_database_scheme() in created.stderr and "from the running stack" in created.stderr
    key = json.loads(created.stdout)["api_key"]
    listed = requests.get(f"{install.base_url}/api/jobs", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert listed.status_code == 200, listed.text  # the key was written where the stack looks

    doctor = install.prosaas("doctor", cwd=elsewhere, unset=STACK_ONLY)
    assert "Traceback" not in output(doctor)
    assert "OK   database" in doctor.stdout and "OK   broker" in doctor.stdout, doctor.stdout
    assert not (elsewhere / "var").exists()
    assert install.make("stop").returncode == 0


def test_info_exits_nonzero_when_the_broker_is_down(make_install):
    install = make_install(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    info = install.prosaas("info")
    assert info.returncode == 1 and "broker DOWN" in info.stdout, output(info)
    assert "redis redis://127.0.0.1:" in info.stderr  # says which Redis it tried


def test_environment_overrides_prosaas_env_read_from_the_install(make_install, tmp_path):
    install = make_install()
    (install.root / "prosaas.env").write_text(f"DATABASE_URL=sqlite:///{tmp_path}/from-file.db\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    from_file = install.prosaas("status", cwd=elsewhere, unset=("DATABASE_URL",))
    assert "from-file.db" in from_file.stderr, output(from_file)
    from_env = install.prosaas("status", cwd=elsewhere)
    assert run_database_scheme() in from_env.stderr and "from-file.db" not in from_env.stderr


def test_reload_restarts_the_roles_with_the_edited_prosaas_env(make_install):
    install = make_install(ADMIN_TOKEN=None)
    env_file = install.root / "prosaas.env"
    env_file.write_text("ADMIN_TOKEN=token-before-edit-0123456789abcdef0123\n")
    env_file.chmod(0o600)
    unit = (install.root / "deploy" / "prosaas.service").read_text()
    assert "ExecReload=/opt/prosaas/.venv/bin/python -m prosaas reload" in unit
    assert "\nEnvironmentFile=" not in unit  # supervisord's environment would override the edited file
    # As systemd runs it: supervisord in the foreground, the unit's environment without prosaas.env values.
    (install.root / "var" / "log").mkdir(parents=True)
    foreground = subprocess.Popen([str(install.root / ".venv" / "bin" / "python"), "-m", "prosaas", "run",
                                   "--foreground"], cwd=install.root, env=install.env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    health = f"{install.base_url}/api/jobs/health"
    try:
        wait_for(lambda: requests.get(health, headers={"Authorization": "Bearer token-before-edit-0123456789abcdef0123"},
                                      timeout=5).status_code == 200, 120, interval=0.5, what="stack up")
        env_file.write_text("ADMIN_TOKEN=token-after-edit-0123456789abcdef01234\n")
        reload = install.prosaas("reload")
        assert reload.returncode == 0, output(reload)
        wait_for(lambda: requests.get(health, headers={"Authorization": "Bearer token-after-edit-0123456789abcdef01234"},
                                      timeout=5).status_code == 200, 180, interval=0.5, what="the edited token")
        assert install.make("stop").returncode == 0
        foreground.wait(60)
    finally:
        if foreground.poll() is None:
            os.killpg(foreground.pid, signal.SIGKILL)
            foreground.wait(10)
