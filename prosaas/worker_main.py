"""`dramatiq` under gevent (what `dramatiq-gevent` does), so `prosaas worker` needs no extra script."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402

# A consumer that lost Redis tries again after this many ms (Dramatiq's default 3,000): a job sent right
# after a Redis restart then starts within about a second, at the price of a log line per queue per try.
os.environ.setdefault("dramatiq_restart_delay", "1000")

from dramatiq.cli import main, make_argument_parser  # noqa: E402

if __name__ == "__main__":
    arguments = sys.argv[1:]
    # Dramatiq reloads (SIGHUP) by exec'ing sys.argv[0], here a module file that is not executable: make it
    # this Python running this module again, so SIGHUP reloads `prosaas worker` as it does `dramatiq`.
    sys.argv = [sys.executable, "-m", "prosaas.worker_main", *arguments]
    if os.environ.get("PROSAAS_WORKER_RELOAD") == "1":
        from prosaas.dev_reload import watch_our_packages

        watch_our_packages()
    sys.exit(main(make_argument_parser().parse_args(arguments)))
