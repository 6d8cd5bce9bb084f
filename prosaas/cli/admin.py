"""Admin commands: businesses, jobs, dead letters."""
from __future__ import annotations

import json
import sys

from prosaas.cli.job_filters import add_job_filter_arguments, job_filter_of
from prosaas.clients.twilio_callbacks import recording_status_callback


def add_commands(commands) -> None:
    business = commands.add_parser("business", help="manage businesses").add_subparsers(dest="sub", required=True)
    create = business.add_parser("create", help="create a business and print its API key (shown once)")
    create.add_argument("name")
    create.add_argument("--timezone", default="UTC", help="IANA name (Europe/Paris); reminders' due_at_local uses it")
    create.add_argument("--json", action="store_true", help='print {"business_id", "api_key"}')
    create.set_defaults(handler=cmd_business_create)
    language = business.add_parser("set-language", help="the business's own transcription language")
    language.add_argument("business_id", type=int)
    language.add_argument("language", help="ISO 639-1 code such as he, or - for TRANSCRIPTION_LANGUAGE")
    language.set_defaults(handler=cmd_business_set_language)
    listing = business.add_parser("list", help="every business: id, name, timezone, key prefix, disabled")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_business_list)
    rotate = business.add_parser("rotate-key", help="give a business a new API key (shown once); the old one stops working")
    rotate.add_argument("business_id", type=int)
    rotate.add_argument("--json", action="store_true", help='print {"business_id", "api_key"}')
    rotate.set_defaults(handler=cmd_business_rotate_key)
    disable = business.add_parser("disable", help="refuse the business's key (401) and cancel its jobs not started")
    disable.add_argument("business_id", type=int)
    disable.set_defaults(handler=cmd_business_disable)

    jobs = commands.add_parser("jobs", help="inspect and control jobs").add_subparsers(dest="sub", required=True)
    listing = jobs.add_parser("list", help="jobs newest first, with the filters of GET /api/admin/jobs")
    add_job_filter_arguments(listing)
    listing.add_argument("--before-id", help="the next page: the last id of the previous one")
    listing.add_argument("--limit", type=int, default=30)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_jobs_list)
    for action in ("show", "retry", "cancel", "pause", "resume"):
        sub = jobs.add_parser(action)
        sub.add_argument("job_id")
        sub.set_defaults(handler=cmd_job_action, action=action)

    dlq = commands.add_parser("dlq", help="dead-letter queue").add_subparsers(dest="sub", required=True)
    dlq_list = dlq.add_parser("list")
    dlq_list.add_argument("--queue")
    dlq_list.add_argument("--json", action="store_true")
    dlq_list.set_defaults(handler=cmd_dlq_list)
    requeue = dlq.add_parser("requeue")
    requeue.add_argument("message_id", nargs="?")
    requeue.add_argument("--all", action="store_true")
    requeue.set_defaults(handler=cmd_dlq_requeue)
    purge = dlq.add_parser("purge")
    purge.add_argument("--queue")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(handler=cmd_dlq_purge)


def cmd_business_set_language(args, settings) -> int:
    import re

    from db.businesses import set_transcription_language
    from prosaas.runtime import get_runtime
    from prosaas.settings import LANGUAGE_CODE

    language = None if args.language == "-" else args.language.strip().lower()
    if language is not None and not re.fullmatch(LANGUAGE_CODE, language):
        print("prosaas: language must be an ISO 639-1 code such as he or en (or - to clear it)", file=sys.stderr)
        return 2
    with get_runtime().database.session() as session:
        if not set_transcription_language(session, args.business_id, language):
            print(f"prosaas: no business {args.business_id}", file=sys.stderr)
            return 1
    print(f"business {args.business_id}: transcription language {language or 'TRANSCRIPTION_LANGUAGE'}")
    return 0
def _known_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def cmd_business_create(args, settings) -> int:
    from db.businesses import create_business
    from prosaas.runtime import get_runtime

    name = args.name.strip()
    if not name or len(name) > 200:
        print("prosaas: business name must be 1-200 characters", file=sys.stderr)
        return 2
    if not _known_timezone(args.timezone):
        print(f"prosaas: unknown --timezone {args.timezone!r}: use an IANA name such as Europe/Paris "
              f"(reminders show due_at_local in it)", file=sys.stderr)
        return 2
    with get_runtime().database.session() as session:
        business, key = create_business(session, name, args.timezone)
        business_id = business.id
    callback = recording_status_callback(settings, business_id)  # None until PUBLIC_BASE_URL is set
    if args.json:
        print(json.dumps({"business_id": business_id, "api_key": key, "recording_status_callback": callback}))
    else:
        print(f"business_id: {business_id}\napi_key:     {key}\n(the key is shown once; store it now)")
        print(f"recording_status_callback: {callback or '(set PUBLIC_BASE_URL to get this URL)'}")
    return 0


def cmd_business_list(args, settings) -> int:
    from prosaas.businesses import businesses
    from prosaas.runtime import get_runtime

    rows = businesses(get_runtime().database)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'ID':>5}  {'NAME':30} {'TIMEZONE':20} {'KEY PREFIX':10}  {'CREATED':19}  STATUS")
    for row in rows:
        print(f"{row['id']:>5}  {row['name'][:30]:30} {row['timezone'][:20]:20} {row['api_key_prefix']:10}  "
              f"{(row['created_at'] or '')[:19]:19}  {'disabled' if row['disabled'] else 'active'}")
    return 0


def cmd_business_rotate_key(args, settings) -> int:
    from prosaas.businesses import rotate_key
    from prosaas.runtime import get_runtime

    key = rotate_key(get_runtime(), args.business_id)
    if key is None:
        print(f"prosaas: no business {args.business_id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"business_id": args.business_id, "api_key": key}))
    else:
        print(f"business_id: {args.business_id}\napi_key:     {key}\n(the key is shown once; the old key no longer works)")
    return 0


def cmd_business_disable(args, settings) -> int:
    from prosaas.businesses import disable
    from prosaas.runtime import get_runtime

    business = disable(get_runtime(), args.business_id)
    if business is None:
        print(f"prosaas: no business {args.business_id}", file=sys.stderr)
        return 1
    print(f"business {business['id']} disabled: its key gets 401 and its jobs that had not started are cancelled")
    return 0


def _print_jobs(jobs) -> None:
    print(f"{'ID':32}  {'TYPE':16} {'STATUS':10} {'BIZ':>4} {'PROGRESS':>14}  {'CREATED':19}  ERROR")
    for job in jobs:
        progress = f"{job['progress']['processed']}/{job['progress']['total']} {job['progress']['percent']:.0f}%"
        print(f"{job['id']:32}  {job['type'][:16]:16} {job['status']:10} {job['business_id']:>4} {progress:>14}  "
              f"{(job['created_at'] or '')[:19]:19}  {(job['error'] or '')[:60]}")


def cmd_jobs_list(args, settings) -> int:
    from prosaas.job_lookup import find_jobs
    from prosaas.runtime import get_runtime

    jobs = find_jobs(get_runtime().database, job_filter_of(args), before_id=args.before_id, limit=args.limit)["jobs"]
    if args.json:
        print(json.dumps(jobs, indent=2))
    else:
        _print_jobs(jobs)
    return 0


def cmd_job_action(args, settings) -> int:
    from db import job_store
    from db.models.core import JobControl
    from prosaas.broker_stack import install_broker
    from prosaas.jobs import control_job, job_view
    from prosaas.runtime import get_runtime

    if args.action == "show":
        with get_runtime().database.session() as session:
            job = job_store.get_job(session, args.job_id)
    else:
        broker = install_broker(get_runtime())  # resends a resumed or retried job's message
        try:
            job = control_job(args.job_id, None, JobControl(args.action), broker=broker)
        except job_store.JobConflict as exc:
            print(f"prosaas: cannot {args.action} job {args.job_id}: {exc}", file=sys.stderr)
            return 1
    if job is None:
        print(f"prosaas: no job {args.job_id}", file=sys.stderr)
        return 1
    print(json.dumps(job_view(job), indent=2))
    return 0


def cmd_dlq_list(args, settings) -> int:
    from prosaas.dead_letters import list_dead_letters
    from prosaas.runtime import get_runtime

    entries = list_dead_letters(get_runtime(), queue=args.queue)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    print(f"{'MESSAGE ID':36}  {'QUEUE':12} {'ACTOR':24} {'REASON':18} {'JOB':32}  ERROR")
    for e in entries:
        print(f"{e['message_id']:36}  {e['queue']:12} {e['actor'][:24]:24} {e['reason'][:18]:18} "
              f"{(e['job_id'] or '-'):32}  {(e['error'] or '')[:60]}")
    print(f"{len(entries)} dead letter(s)")
    return 0


def cmd_dlq_requeue(args, settings) -> int:
    from prosaas.broker_stack import install_broker
    from prosaas.dead_letters import list_dead_letters, requeue_dead_letter
    from prosaas.runtime import get_runtime

    broker = install_broker(get_runtime())  # the requeued messages go through the broker the roles use

    if not args.all and not args.message_id:
        print("prosaas: give a message id or --all", file=sys.stderr)
        return 2
    ids = [e["message_id"] for e in list_dead_letters(broker.runtime, limit=100000)] if args.all else [args.message_id]
    done = 0
    for index, message_id in enumerate(ids, 1):
        if requeue_dead_letter(broker, message_id):
            done += 1
        if len(ids) > 20 and index % 20 == 0:
            print(f"  requeued {index}/{len(ids)}", file=sys.stderr)
    if not done and not args.all:
        print(f"prosaas: no dead letter {args.message_id}", file=sys.stderr)
        return 1
    print(f"requeued {done} message(s)")
    return 0


def cmd_dlq_purge(args, settings) -> int:
    from prosaas.dead_letters import purge_dead_letters
    from prosaas.runtime import get_runtime

    if not args.yes:
        if not sys.stdin.isatty():
            print("prosaas: refusing to purge without --yes (no terminal to confirm on)", file=sys.stderr)
            return 2
        if input(f"Delete every dead letter{' in ' + args.queue if args.queue else ''}? [y/N] ").lower() != "y":
            return 1
    print(f"purged {purge_dead_letters(get_runtime(), args.queue)} dead letter(s)")
    return 0
