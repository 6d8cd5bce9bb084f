"""`dramatiq` under gevent (what `dramatiq-gevent` does), so `prosaas worker` needs no extra script."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402

# A consumer that lost Redis tries again after this many ms (Dramatiq's default 3,000): a job sent right
# after a Redis restart then starts within about a second, at the price of a log line per queue per try.
os.environ.setdefault("dramatiq_restart_delay", "1000")

from dramatiq.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
