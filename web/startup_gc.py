"""A web worker's start-up objects are frozen out of the garbage collector: no 70 ms pause for a full collection.

A gunicorn web worker holds ~130,000 GC-tracked objects once the app is built (modules, SQLAlchemy, pydantic
and spectree models, routes). CPython's full (generation 2) collection walks all of them, ~70 ms on a quiet
machine and 150-200 ms on a busy one, while every request of that worker waits: under load that happened
once or twice per worker every 10 s, and it was the API's p99 at half saturation (bench/README.md, section 2).
`gc.freeze()` moves what exists at start-up into the permanent generation, which collections skip; cycles
made afterwards (per request) are still collected, and a full collection now walks only those (~3 ms).
"""
from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect start-up garbage once, then exclude every surviving object from later collections."""
    gc.collect()
    gc.freeze()
