"""Make psycopg2 cooperative when the process runs under gevent (web and worker roles)."""
from __future__ import annotations


def gevent_active() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover
        return False
    return monkey.is_module_patched("socket")


def patch_psycopg_if_gevent() -> None:
    if gevent_active():
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
