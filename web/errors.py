"""Every error is JSON {"title", "description"} with the right status; nothing leaks a traceback."""
from __future__ import annotations

import logging

import falcon
from sqlalchemy.exc import DataError, InterfaceError, OperationalError

from db.group_commit import GroupWriteFailed, database_unreachable
from db.job_store import JobConflict
from prosaas.errors import BadInput, BrokerUnavailable

log = logging.getLogger("prosaas.web")


def _not_found(req, resp, ex, params):
    raise falcon.HTTPNotFound(title="Not found", description=f"No resource at {req.path}.")


def _broker_down(req, resp, ex, params):
    raise falcon.HTTPServiceUnavailable(title="Broker unavailable", description=str(ex), retry_after=5)


def _database_down(req, resp, ex, params):
    log.warning("DATABASE_UNAVAILABLE path=%s error=%s", req.path, type(ex).__name__)
    raise falcon.HTTPServiceUnavailable(title="Database unavailable",
                                        description="The database is unreachable; try again shortly.",
                                        retry_after=5)


def _group_write_failed(req, resp, ex, params):
    """A row written together with other requests' rows (db/group_commit.py) failed: answer by its cause."""
    cause = ex.__cause__
    if database_unreachable(ex):
        return _database_down(req, resp, cause, params)
    if isinstance(cause, DataError):
        return _out_of_range(req, resp, cause, params)
    return _unexpected(req, resp, ex, params)


def _out_of_range(req, resp, ex, params):
    log.info("HTTP_422 reason=value_out_of_range path=%s error=%s", req.path, type(ex).__name__)
    raise falcon.HTTPUnprocessableEntity(title="Invalid request",
                                         description="A value in the request is out of range or malformed.")


def _conflict(req, resp, ex, params):
    raise falcon.HTTPConflict(title="Conflict", description=str(ex))


def _bad_input(req, resp, ex, params):
    raise falcon.HTTPUnprocessableEntity(title="Invalid request", description=str(ex))


def _unexpected(req, resp, ex, params):
    if isinstance(ex, falcon.HTTPError):
        raise ex
    log.exception("HTTP_500 method=%s path=%s", req.method, req.path)
    raise falcon.HTTPInternalServerError(title="Internal error",
                                         description="Unexpected error; it has been logged.")


DEFAULT_DESCRIPTIONS = {
    400: "The request could not be read; check the body and its Content-Type.",
    401: "Send 'Authorization: Bearer <API key>'.",
    403: "These credentials may not use this endpoint.",
    404: "No such resource.",
    405: "This method is not allowed here; see /openapi.json.",
    411: "Send a Content-Length header.",
    413: "The request body is too large.",
    415: "Unsupported Content-Type; see /openapi.json for what this endpoint accepts.",
}


def _describe(req, resp, ex, params):
    """Falcon's own errors (405, bad JSON, ...) get a description a person can act on."""
    if not ex.description:
        ex.description = DEFAULT_DESCRIPTIONS.get(ex.status_code, ex.title)
    resp.status = ex.status
    resp.media = {"title": ex.title, "description": ex.description}
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def install_error_handlers(app: falcon.App) -> None:
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _describe)
    app.add_error_handler(falcon.HTTPRouteNotFound, _not_found)
    app.add_error_handler(BrokerUnavailable, _broker_down)
    app.add_error_handler(OperationalError, _database_down)
    app.add_error_handler(InterfaceError, _database_down)
    app.add_error_handler(GroupWriteFailed, _group_write_failed)
    app.add_error_handler(JobConflict, _conflict)
    app.add_error_handler(BadInput, _bad_input)
    # A value the database cannot store (an id beyond BIGINT, say) is the caller's mistake, not a 500.
    app.add_error_handler(DataError, _out_of_range)
    app.add_error_handler(OverflowError, _out_of_range)
    install_broker_error_handlers(app)


def install_broker_error_handlers(app: falcon.App) -> None:
    import redis

    app.add_error_handler(redis.ConnectionError, _broker_down_raw)
    app.add_error_handler(redis.TimeoutError, _broker_down_raw)


def _broker_down_raw(req, resp, ex, params):
    log.warning("BROKER_UNAVAILABLE path=%s error=%s", req.path, type(ex).__name__)
    raise falcon.HTTPServiceUnavailable(title="Broker unavailable",
                                        description="The job broker (Redis) is unreachable; try again shortly.",
                                        retry_after=5)
