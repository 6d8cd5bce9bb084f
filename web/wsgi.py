"""Gunicorn's entry point: `gunicorn web.wsgi:app` (the gevent worker class is set by `prosaas web`)."""
from prosaas.gevent_support import patch_psycopg_if_gevent

patch_psycopg_if_gevent()

from prosaas.file_modes import make_files_private  # noqa: E402
from prosaas.logs import configure_logging  # noqa: E402
from prosaas.settings import get_settings  # noqa: E402

make_files_private(get_settings().data_dir)  # also when gunicorn is started without `prosaas web`
configure_logging(get_settings().log_level, get_settings().log_format)

from web.app import create_app  # noqa: E402
from web.limits import close_when_asked  # noqa: E402

app = close_when_asked(create_app())
