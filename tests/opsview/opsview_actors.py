"""Test-only actors for the operators' view, loaded into real workers with `--module tests.opsview.opsview_actors`."""
from __future__ import annotations

import dramatiq

from prosaas.broker_stack import installed_broker
from tests.support.sample_actors import _redis, mark

installed_broker()  # the real broker and middleware stack, installed by this process's entry point


@dramatiq.actor(queue_name="default", max_retries=0)
def broken_until_fixed(business_id: int, marker: str) -> None:
    """Fails while the test's `broken` flag is set: a bug, then the fix deployed."""
    _redis().rpush(mark("runs", marker), 1)
    if _redis().exists(mark("broken", marker)):
        raise RuntimeError(f"upstream rejected the call (case {marker})")
