"""POST /api/admin/queues/{name}/pause and /resume: stop and restart consumption of one queue (admin)."""
from __future__ import annotations

import falcon
from pydantic import BaseModel
from spectree import Response

from prosaas.queue_pause import pause_queue, resume_queue
from prosaas.settings import ALL_QUEUES
from web.spec import ErrorBody, api


class QueuePauseState(BaseModel):
    queue: str
    paused: bool


def _known_queue(name: str) -> str:
    if name not in ALL_QUEUES:
        raise falcon.HTTPNotFound(title="Not found",
                                  description=f"No queue {name[:64]!r}; queues: {', '.join(ALL_QUEUES)}.")
    return name


class QueuePause:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(resp=Response(HTTP_200=QueuePauseState, HTTP_404=ErrorBody), tags=["ops"])
    def on_post(self, req, resp, name: str):
        """Workers stop taking messages from the queue within a second; its messages stay, new ones wait."""
        resp.media = pause_queue(self.runtime.redis, self.runtime.keys, _known_queue(name), by="api")


class QueueResume:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(resp=Response(HTTP_200=QueuePauseState, HTTP_404=ErrorBody), tags=["ops"])
    def on_post(self, req, resp, name: str):
        """Workers take messages from the queue again."""
        resp.media = resume_queue(self.runtime.redis, self.runtime.keys, _known_queue(name), by="api")
