"""`make run`, `make stop`, `make status` driven for real on a private copy of the checkout."""
import re
from pathlib import Path

import requests

from prosaas.cli.ports import bind_error

NOT_RUNNING = "prosaas is not running"


def program_pids(status_output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+RUNNING\s+pid (\d+)", status_output, re.M)}


def alive(pid: int) -> bool:
    """Running, not merely a zombie left for a parent (or a container's init) to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def output(completed) -> str:
    return completed.stdout + completed.stderr


def test_status_and_stop_with_nothing_running_say_so_without_a_traceback(make_install):
    install = make_install()
    status = install.make("status")
    assert status.returncode != 0 and NOT_RUNNING in status.stdout, output(status)
    assert "exit 3" in status.stderr or "Error 3" in status.stderr  # make reports the command's exit status 3
    assert install.prosaas("status").returncode == 3
    stop = install.make("stop")
    assert stop.returncode == 0 and NOT_RUNNING in stop.stdout, output(stop)
    for completed in (status, stop):
        assert "Traceback" not in output(completed)


def test_run_twice_keeps_the_stack_then_stop_and_run_works(make_install):
    install = make_install(ADMIN_TOKEN=None)  # REDIS_URL set: no embedded valkey program
    first = install.make("run")
    assert first.returncode == 0 and "prosaas is running" in first.stdout, output(first)
    assert "locked until ADMIN_TOKEN is set" in first.stdout
    supervisord = install.supervisord_pid()
    status = install.make("status")
    assert status.returncode == 0, output(status)
    pids = program_pids(status.stdout)
    assert set(pids) == {"web", "worker", "worker-high", "scheduler"}, status.stdout  # no EXITED redis

    second = install.make("run")
    assert second.returncode == 0 and "already running" in second.stdout, output(second)
    assert install.supervisord_pid() == supervisord
    assert program_pids(install.make("status").stdout) == pids  # nothing restarted

    stop = install.make("stop")
    assert stop.returncode == 0 and "prosaas stopped" in stop.stdout, output(stop)
    # `make stop` returned: supervisord and every role have exited, the port is free.
    assert not any(alive(pid) for pid in [supervisord, *pids.values()])
    assert bind_error(install.env["PROSAAS_BIND"]) is None

    again = install.make("run")
    assert again.returncode == 0 and "prosaas is running" in again.stdout, output(again)
    assert "Traceback" not in output(again) and "already listening" not in output(again)
    assert requests.get(f"{install.base_url}/readyz", timeout=10).status_code == 200
