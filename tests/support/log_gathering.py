"""Run by a test: a gevent-patched process whose greenlets log events while the roles' handler gathers lines
per loop turn. Writes to the file named on the command line and reports on stdout what it saw:

- `during_turn`: the file's size right after 100 events of one turn (0: gathered, not yet written);
- `after_turn`: its line count once the loop has turned (all 100 written);
- the file then gets a WARNING record (written at once, after the gathered lines), 50 events from greenlets,
  an explicit flush (what a group ack does), and 5 events gathered just before gathering stops (shutdown).
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

from prosaas.log_handler import flush_gathered_lines, gather_lines_per_loop_turn  # noqa: E402
from prosaas.logs import configure_logging, log_event  # noqa: E402


def main(path: str) -> None:
    stream = open(path, "w", buffering=1)
    configure_logging("INFO", "text", stream=stream)
    gather_lines_per_loop_turn()
    log = logging.getLogger("prosaas.jobs")
    report = {}
    for n in range(100):
        log_event(log, logging.INFO, "JOB_DONE", n=n)
    report["during_turn"] = os.path.getsize(path)
    gevent.sleep(0)
    report["after_turn"] = len(open(path).read().splitlines())
    for n in range(100, 103):
        log_event(log, logging.INFO, "JOB_DONE", n=n)
    log.warning("QUEUE_SLOW queue=%s", "default")  # a record: the gathered lines go first
    gevent.joinall([gevent.spawn(log_event, log, logging.INFO, "JOB_PICKED", n=n) for n in range(50)])
    log_event(log, logging.INFO, "JOB_DONE", n=999)
    flush_gathered_lines()
    report["after_flush"] = len(open(path).read().splitlines())
    for n in range(5):
        log_event(log, logging.INFO, "JOB_DONE", n=1000 + n)
    gather_lines_per_loop_turn(False)
    report["after_stop"] = len(open(path).read().splitlines())
    log_event(log, logging.INFO, "WORKER_STOPPED", pid=1)
    report["after_stopped_line"] = len(open(path).read().splitlines())
    print(json.dumps(report))
    sys.stdout.flush()
    os._exit(0)  # as a Dramatiq worker process ends: no atexit, no logging.shutdown


if __name__ == "__main__":
    main(sys.argv[1])
