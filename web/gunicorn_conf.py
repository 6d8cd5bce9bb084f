"""Gunicorn hooks for the web role (`--config python:web.gunicorn_conf`); settings stay on the command line.

The access log line is `HTTP_ACCESS ... path="%({raw_uri}e)s"`: the request target as it arrived, still
percent-encoded, so `/nope%0AFORGED` stays on its own line. Every atom is escaped as well (the logger class).
"""
from gunicorn.glogging import Logger, SafeAtoms

from prosaas.logs import escape_text


class EscapedAtoms(SafeAtoms):
    """Gunicorn's atoms (quotes already escaped) with control characters escaped too: no value starts a line."""

    def __init__(self, atoms):
        super().__init__({key: escape_text(value) if isinstance(value, str) else value
                          for key, value in atoms.items()})


class AccessLogger(Logger):
    atoms_wrapper_class = EscapedAtoms


logger_class = AccessLogger


def child_exit(server, worker):
    # An exited web worker's live Prometheus gauges must not be summed any more.
    from prosaas.metrics import ensure_multiproc_dir, mark_process_dead
    from prosaas.settings import get_settings

    ensure_multiproc_dir(get_settings().data_dir)
    mark_process_dead(worker.pid)
