"""Which ticks a cron spec owes for one real minute when specs are read in a local time zone.

Across daylight-saving changes every tick fires once: none skipped, none doubled (as cron does it).
- Spring forward (the wall clock jumps, e.g. 02:00 -> 03:00): a spec with a fixed hour whose time fell
  in the jump fires at the first minute after it; specs that run every hour just go on.
- Fall back (an hour repeats, e.g. 01:00-01:59 twice): a spec with a fixed hour fires in the first
  pass only; specs that run every hour fire in both passes (each is a real hour).
A tick is named by its local wall time with its offset (`2026-10-25T01:30:00+03:00`): in UTC this is
the plain UTC time, and the two passes of a repeated hour have different names.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator

ONE_MINUTE = dt.timedelta(minutes=1)


def runs_every_hour(spec) -> bool:
    return len(spec.hour) >= 24


def due_ticks(spec, minute: dt.datetime, zone: dt.tzinfo) -> list[dt.datetime]:
    """The local tick times (aware, in `zone`) `spec` fires for in the real minute starting at `minute`."""
    local = minute.astimezone(zone)
    due = list(_jumped_over(spec, minute, zone)) if not runs_every_hour(spec) else []
    repeated_pass = local.fold == 1  # astimezone() marks the second pass of a repeated wall time
    if spec.validate(local) and not (repeated_pass and not runs_every_hour(spec)):
        due.append(local)
    return due


def _jumped_over(spec, minute: dt.datetime, zone: dt.tzinfo) -> Iterator[dt.datetime]:
    """Wall-clock minutes that never happened between the previous real minute and this one."""
    wall_now = minute.astimezone(zone).replace(tzinfo=None, fold=0)
    wall = (minute - ONE_MINUTE).astimezone(zone).replace(tzinfo=None, fold=0) + ONE_MINUTE
    while wall < wall_now:
        if spec.validate(wall):
            yield wall.replace(tzinfo=zone)
        wall += ONE_MINUTE
