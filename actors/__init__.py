"""Dramatiq actors, one module per domain. Importing this package declares them all on the broker."""
from prosaas.broker_stack import installed_broker

# Actors are declared on Dramatiq's global broker: it must be ours (a role entry point installs it), never a
# default broker Dramatiq would make up, on which they would run without our middleware.
installed_broker()

from actors import diagnostics  # noqa: F401,E402
from actors import receipts  # noqa: F401,E402
from actors import broadcasts  # noqa: F401,E402
from actors import push  # noqa: F401,E402
from actors import reminders  # noqa: F401,E402
from actors import whatsapp  # noqa: F401,E402
from actors import recordings, sessions  # noqa: F401,E402
from actors import bulk  # noqa: F401,E402
from actors import maintenance  # noqa: F401,E402
