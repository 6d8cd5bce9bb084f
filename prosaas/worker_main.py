"""`dramatiq` under gevent (what `dramatiq-gevent` does), so `prosaas worker` needs no extra script."""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from dramatiq.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
