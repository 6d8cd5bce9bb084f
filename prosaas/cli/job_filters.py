"""The job filter options shared by `prosaas jobs list` and `prosaas bulk retry-failed` (GET /api/admin/jobs's)."""
from __future__ import annotations

import argparse
import datetime as dt

from db.job_search import JobFilter
from db.models.core import JobStatus
from prosaas.settings import ALL_QUEUES


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def add_job_filter_arguments(parser, *, with_status: bool = True) -> None:
    if with_status:
        parser.add_argument("--status", choices=JobStatus.ALL)
    parser.add_argument("--type", help="job type (exact)")
    parser.add_argument("--business", "--business-id", dest="business", type=int)
    parser.add_argument("--queue", choices=ALL_QUEUES)
    parser.add_argument("--q", "-q", dest="q", help="matches the job id, or part of its type or error")
    parser.add_argument("--since", type=_moment, help="created at or after (ISO, UTC unless an offset is given)")


def job_filter_of(args) -> JobFilter:
    return JobFilter(status=getattr(args, "status", None), type=args.type, business_id=args.business,
                     queue=args.queue, q=args.q, since=args.since)
