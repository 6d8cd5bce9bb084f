"""Gunicorn hooks for the web role (`--config python:web.gunicorn_conf`); settings stay on the command line.

The access log line is `HTTP_ACCESS ... path="%({raw_uri}e)s"`: the request target as it arrived, still
percent-encoded, so `/nope%0AFORGED` stays on its own line. Every atom is escaped as well (the logger class).
"""
from gunicorn.glogging import Logger, SafeAtoms

from prosaas.logs import escape_text


class EscapedAtoms(SafeAtoms):
    """Gunicorn's atoms with control characters escaped, and quotes as SafeAtoms escapes them: no value starts
    a line. Each atom is escaped when the format reads it: the atoms hold every request and response header
    and every environ entry (dozens), the format reads five."""

    def __init__(self, atoms):
        dict.__init__(self, atoms)

    def __getitem__(self, key):
        value = super().__getitem__(key)  # SafeAtoms: `{header}` names case-insensitive, '-' when absent
        return escape_text(value).replace('"', '\\"') if isinstance(value, str) else value


class AccessLogger(Logger):
    atoms_wrapper_class = EscapedAtoms


logger_class = AccessLogger


def child_exit(server, worker):
    # An exited web worker's live Prometheus gauges must not be summed any more.
    from prosaas.metrics import ensure_multiproc_dir, mark_process_dead
    from prosaas.settings import get_settings

    ensure_multiproc_dir(get_settings().data_dir)
    mark_process_dead(worker.pid)
