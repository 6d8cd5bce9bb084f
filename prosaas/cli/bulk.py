"""`prosaas bulk …`: the dashboard's bulk actions from the terminal; each asks for confirmation (or --yes)."""
from __future__ import annotations

import json
import sys

from prosaas.cli.job_filters import add_job_filter_arguments, job_filter_of


def add_commands(commands) -> None:
    bulk = commands.add_parser("bulk", help="act on many jobs or dead letters at once (a tracked job)"
                               ).add_subparsers(dest="sub", required=True)
    retry = bulk.add_parser("retry-failed", help="retry every failed job matching the filters")
    add_job_filter_arguments(retry, with_status=False)
    cancel = bulk.add_parser("cancel-queued", help="cancel every queued job of a business")
    cancel.add_argument("--business", "--business-id", dest="business", type=int, required=True)
    requeue = bulk.add_parser("requeue-dead-letters", help="requeue every dead letter of a queue")
    purge = bulk.add_parser("purge-dead-letters", help="delete every dead letter of a queue")
    for sub in (requeue, purge):
        sub.add_argument("queue")
    for sub, action in ((retry, "retry_failed"), (cancel, "cancel_queued"), (requeue, "requeue_dead_letters"),
                        (purge, "purge_dead_letters")):
        sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        sub.add_argument("--wait", action="store_true", help="wait for the bulk job to finish")
        sub.set_defaults(handler=cmd_bulk, action=action)


def _request(args):
    from db.job_search import JobFilter
    from prosaas.bulk import BulkRequest

    if args.action == "retry_failed":
        return BulkRequest(action=args.action, job_filter=job_filter_of(args))
    if args.action == "cancel_queued":
        return BulkRequest(action=args.action, job_filter=JobFilter(), business_id=args.business)
    return BulkRequest(action=args.action, queue=args.queue)


def cmd_bulk(args, settings) -> int:
    from prosaas.broker_stack import install_broker
    from prosaas.bulk import BulkInputError, preview
    from prosaas.runtime import get_runtime
    from prosaas.settings import ALL_QUEUES

    install_broker(get_runtime())  # the bulk job is sent through the broker the roles use
    from actors.bulk_service import start_bulk

    if getattr(args, "queue", None) and args.queue not in ALL_QUEUES:
        print(f"prosaas: no queue {args.queue!r}; queues: {', '.join(ALL_QUEUES)}", file=sys.stderr)
        return 2
    request = _request(args)
    try:
        runtime = get_runtime()
        count = preview(runtime, request)
        if not args.yes:
            if not sys.stdin.isatty():
                print(f"prosaas: {args.action} would touch {count}; refusing without --yes (no terminal to "
                      f"confirm on)", file=sys.stderr)
                return 2
            if input(f"{args.action.replace('_', ' ')}: {count} affected. Go on? [y/N] ").lower() != "y":
                return 1
        job_id, count = start_bulk(runtime, request)
    except BulkInputError as exc:
        print(f"prosaas: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"action": args.action, "count": count, "job_id": job_id}), flush=True)
    return _wait(job_id) if args.wait else 0


def _wait(job_id: str) -> int:
    import time

    from db import job_store
    from prosaas.runtime import get_runtime

    while True:
        with get_runtime().database.session() as session:
            job = job_store.get_job(session, job_id)
        print(f"  {job.status} {job.processed}/{job.total}", file=sys.stderr, flush=True)
        if job.status in ("completed", "failed", "cancelled"):
            return 0 if job.status == "completed" else 1
        time.sleep(1)
