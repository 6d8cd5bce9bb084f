"""`prosaas queues pause|resume NAME` and `prosaas queues list`: stop and restart consumption of a queue."""
from __future__ import annotations

import json
import sys


def add_commands(commands) -> None:
    queues = commands.add_parser("queues", help="pause and resume queues").add_subparsers(dest="sub", required=True)
    for action, text in (("pause", "workers stop taking messages from NAME (its messages stay and wait)"),
                         ("resume", "workers take messages from NAME again")):
        sub = queues.add_parser(action, help=text)
        sub.add_argument("name")
        sub.set_defaults(handler=cmd_queue_pause, action=action)
    queues.add_parser("list", help="paused queues").set_defaults(handler=cmd_queues_list)


def cmd_queue_pause(args, settings) -> int:
    from prosaas.queue_pause import pause_queue, resume_queue
    from prosaas.runtime import get_runtime
    from prosaas.settings import ALL_QUEUES

    if args.name not in ALL_QUEUES:
        print(f"prosaas: no queue {args.name!r}; queues: {', '.join(ALL_QUEUES)}", file=sys.stderr)
        return 2
    runtime = get_runtime()
    change = pause_queue if args.action == "pause" else resume_queue
    print(json.dumps(change(runtime.redis, runtime.keys, args.name, by="cli")))
    return 0


def cmd_queues_list(args, settings) -> int:
    from prosaas.queue_pause import paused_queues
    from prosaas.runtime import get_runtime

    runtime = get_runtime()
    print(json.dumps({"paused": sorted(paused_queues(runtime.redis, runtime.keys))}))
    return 0
