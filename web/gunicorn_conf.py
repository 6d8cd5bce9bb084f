"""Gunicorn hooks for the web role (`--config python:web.gunicorn_conf`); settings stay on the command line."""


def child_exit(server, worker):
    # An exited web worker's live Prometheus gauges must not be summed any more.
    from prosaas.metrics import ensure_multiproc_dir, mark_process_dead
    from prosaas.settings import get_settings

    ensure_multiproc_dir(get_settings().data_dir)
    mark_process_dead(worker.pid)
