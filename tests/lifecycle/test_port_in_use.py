"""`make run` with the web port already taken: names the port and its holder, starts nothing, exits non-zero."""
import os
import socket

from tests.lifecycle.test_make_lifecycle import NOT_RUNNING, output


def test_run_names_the_port_and_its_holder_and_starts_nothing(make_install):
    install = make_install()
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", install.port))
        holder.listen()
        run = install.make("run", timeout=60)  # gives up within seconds, not after the 90 s readiness wait
    assert run.returncode != 0, output(run)
    assert f"port {install.port}" in run.stderr and f"pid {os.getpid()}" in run.stderr, output(run)
    assert "Nothing was started" in run.stderr and "Traceback" not in output(run)
    assert install.supervisord_pid() is None
    assert NOT_RUNNING in install.make("status").stdout
