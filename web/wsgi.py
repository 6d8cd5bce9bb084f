"""Gunicorn's entry point: `gunicorn web.wsgi:app` (the gevent worker class is set by `prosaas web`)."""
from prosaas.gevent_support import patch_psycopg_if_gevent

patch_psycopg_if_gevent()

from prosaas.broker_stack import install_broker  # noqa: E402
from prosaas.file_modes import make_files_private  # noqa: E402
from prosaas.logs import configure_logging  # noqa: E402
from prosaas.runtime import get_runtime  # noqa: E402

runtime = get_runtime()
make_files_private(runtime.settings.data_dir)  # also when gunicorn is started without `prosaas web`
configure_logging(runtime.settings.log_level, runtime.settings.log_format)
broker = install_broker(runtime)  # before web.app imports `actors`, which are declared on it

from web.app import create_app  # noqa: E402
from web.limits import close_when_asked  # noqa: E402
from web.startup_gc import freeze_startup_objects  # noqa: E402

app = close_when_asked(create_app(runtime, broker))
freeze_startup_objects()  # last: the app's objects are start-up objects too
