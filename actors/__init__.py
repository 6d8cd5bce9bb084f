"""Dramatiq actors, one module per domain. Importing this package declares them all on the broker."""
import prosaas.broker  # noqa: F401  (sets the global broker before any actor is declared)

from actors import diagnostics  # noqa: F401,E402
from actors import receipts  # noqa: F401,E402
from actors import broadcasts  # noqa: F401,E402
from actors import push  # noqa: F401,E402
from actors import reminders  # noqa: F401,E402
from actors import whatsapp  # noqa: F401,E402
from actors import recordings, sessions  # noqa: F401,E402
from actors import bulk  # noqa: F401,E402
from actors import maintenance  # noqa: F401,E402
