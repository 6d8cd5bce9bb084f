"""`prosaas run | stop | status`: the whole stack under supervisord, with the answers an operator expects.

- `run` on a running stack with the same settings says "already running" and touches nothing; with
  other settings it stops everything and starts again (supervisord's `restart` would reuse its old
  environment). A web address already in use is named, with its holder, before anything starts.
- `stop` returns once supervisord and every program have exited, or names what did not (exit 1).
- `status` and `stop` with nothing running say "prosaas is not running" (exit 3 and 0, as LSB scripts do).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from prosaas.cli import run_state, stack
from prosaas.cli.ports import describe_busy_bind

NOT_RUNNING = "prosaas is not running"
STOP_TIMEOUT_SECONDS = 240  # above the sum of supervisord.conf's stopwaitsecs for the groups stopped in turn


def add_commands(commands) -> None:
    run = commands.add_parser("run", help="start every role under supervisord on this host")
    run.add_argument("--foreground", action="store_true", help="keep supervisord in the foreground (systemd)")
    run.set_defaults(handler=cmd_run)
    stop = commands.add_parser("stop", help="stop the stack and wait until every role has exited")
    stop.add_argument("--timeout", type=float, default=STOP_TIMEOUT_SECONDS)
    stop.set_defaults(handler=cmd_stop)
    commands.add_parser("status", help="supervisord's view of the roles (exit 3 when not running)"
                        ).set_defaults(handler=cmd_status)
    commands.add_parser("reload", help="restart every role with prosaas.env as it is now (systemd ExecReload)"
                        ).set_defaults(handler=cmd_reload)


def _say(message: str) -> None:
    print(f"prosaas: {message}", file=sys.stderr, flush=True)


def cmd_run(args, settings) -> int:
    (stack.RUN_DIR / "log").mkdir(parents=True, exist_ok=True)
    if stack.supervisord_pid() is not None:
        changed = run_state.changed_settings(settings)
        if changed == []:
            print("prosaas is already running with the same settings; nothing restarted "
                  "(`make stop && make run` loads changed code).")
            _print_urls(settings)
            return 0
        _say("settings differ from the running stack's (" + ", ".join(changed or ["not recorded"])
             + "): stopping every role, then starting again")
        if not _stop(STOP_TIMEOUT_SECONDS):
            return 1
    busy = describe_busy_bind(settings.bind)
    if busy:
        _say(f"{busy}. Nothing was started.")
        return 1
    stack.write_programs(settings, sys.executable)
    run_state.write_state(settings)
    _clear_metrics_files(settings)
    supervisord = [sys.executable, "-m", "supervisor.supervisord", "-c", str(stack.SUPERVISORD_CONF)]
    if args.foreground:
        os.execv(sys.executable, supervisord + ["--nodaemon"])
    subprocess.run(supervisord, check=True)
    return _wait_ready(settings)


def _wait_ready(settings) -> int:
    url = f"http://{settings.bind}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except Exception:
            time.sleep(0.5)
    else:
        _say(f"roles started but {url}/readyz is not ready yet; see var/log/ and `make status`")
        return 1
    print("prosaas is running.")
    _print_urls(settings)
    return 0


def _print_urls(settings) -> None:
    url = f"http://{settings.bind}"
    dashboard = f"{url}/dashboard" if settings.admin_token else \
        f"{url}/dashboard  (locked until ADMIN_TOKEN is set; then `make run` again)"
    print(f"  API:       {url}/api/  (OpenAPI: {url}/openapi.json)\n  Dashboard: {dashboard}\n"
          f"  Status:    make status\n  Logs:      var/log/\n  Stop:      make stop", flush=True)


def _clear_metrics_files(settings) -> None:
    """Metrics files of processes from an earlier run would otherwise pile up (multiprocess mode)."""
    from prosaas.metrics import ensure_multiproc_dir

    for path in ensure_multiproc_dir(settings.data_dir).glob("*.db"):
        path.unlink(missing_ok=True)


def _stop(timeout: float) -> bool:
    outcome = stack.stop_stack(timeout)
    if outcome.stopped:
        run_state.clear_state()
        return True
    left = "; ".join(f"{name} (pid {', '.join(map(str, pids))})" for name, pids in outcome.still_running.items())
    _say(f"still running after {timeout:g}s: {left}")
    return False


def cmd_stop(args, settings) -> int:
    if stack.supervisord_pid() is None:
        print(NOT_RUNNING)
        return 0
    if not _stop(args.timeout):
        return 1
    print("prosaas stopped")
    return 0


def cmd_reload(args, settings) -> int:
    """Rewrite the optional programs for today's settings and SIGHUP supervisord: it stops every role in
    reverse priority order, re-reads its configuration and starts them again, each reading prosaas.env."""
    pid = stack.supervisord_pid()
    if pid is None:
        print(NOT_RUNNING)
        return 7  # LSB: program is not running
    stack.write_programs(settings, sys.executable)
    run_state.write_state(settings)
    os.kill(pid, signal.SIGHUP)
    print("prosaas: reloading; every role restarts with the settings as they are now")
    return 0


def cmd_status(args, settings) -> int:
    if stack.supervisord_pid() is None:
        print(NOT_RUNNING)
        return 3
    result = subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(stack.SUPERVISORD_CONF),
                             "status"], capture_output=True, text=True)
    print(result.stdout.rstrip() or result.stderr.rstrip())
    return result.returncode
