"""Actors are declared only on the broker a role entry point installed, never on Dramatiq's default one."""
import subprocess
import sys

from tests.support.environment import REPO_ROOT


def test_importing_actors_without_an_installed_broker_names_what_to_call():
    result = subprocess.run([sys.executable, "-c", "import actors"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "call prosaas.broker_stack.install_broker(runtime) before importing `actors`" in result.stderr


def test_the_module_for_dramatiqs_cli_installs_the_broker_the_actors_are_declared_on():
    code = "import dramatiq, prosaas.broker, actors; assert dramatiq.get_broker() is prosaas.broker.broker; " \
           "print(len(prosaas.broker.broker.actors))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0
