"""Process identity and liveness from /proc: a pid is judged only on its own host and pid namespace."""
import os
import subprocess
import sys

from prosaas.process_identity import Liveness, liveness, process_identity


def test_this_process_is_alive_and_its_identity_names_host_pid_and_start_time():
    me = process_identity()
    assert set(me) == {"boot_id", "pid_ns", "pid", "start_ticks"} and me["pid"] == os.getpid()
    assert liveness(me) is Liveness.ALIVE


def test_an_exited_process_a_zombie_and_a_reused_pid_are_exited():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    recorded = process_identity(child.pid)
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped: a zombie
    assert liveness(recorded) is Liveness.EXITED
    child.wait()
    assert liveness(recorded) is Liveness.EXITED
    reused = {**process_identity(), "start_ticks": process_identity()["start_ticks"] - 1}
    assert liveness(reused) is Liveness.EXITED  # the same pid started at another time is another process


def test_an_entry_from_another_host_or_namespace_or_without_identity_is_unknown():
    me = process_identity()
    assert liveness({**me, "boot_id": "00000000-0000-0000-0000-000000000000", "pid": 2 ** 22 + 1}) \
        is Liveness.UNKNOWN
    assert liveness({**me, "pid_ns": "pid:[1]", "pid": 2 ** 22 + 1}) is Liveness.UNKNOWN
    assert liveness({"pid": os.getpid()}) is Liveness.UNKNOWN
