"""Request validation and the OpenAPI document, from the same pydantic declarations (spectree)."""
from __future__ import annotations

from typing import Optional

import falcon
from pydantic import BaseModel, ValidationError
from spectree import SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData, SecureType


class ErrorBody(BaseModel):
    """Every error response: {"title", "description"} (also what a 422 looks like, see _reject_invalid)."""

    title: str
    description: Optional[str] = None


def validation_problems(error: ValidationError, whole: str = "body") -> str:
    """A 422's description: `field: problem; ...` for the first ten problems (`whole` names an error of no field)."""
    return "; ".join(f"{'.'.join(str(p) for p in item.get('loc', ())) or whole}: {item.get('msg')}"
                     for item in error.errors()[:10])


def _reject_invalid(req, resp, error, _instance, *_args):
    if error is None:
        return
    raise falcon.HTTPUnprocessableEntity(title="Invalid request", description=validation_problems(error))


api = SpecTree(
    "falcon", title="prosaas", version="1", path="apidoc", annotations=True, before=_reject_invalid, mode="strict",
    validation_error_model=ErrorBody,
    security_schemes=[
        SecurityScheme(name="business_key", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")),
    ],
    security={"business_key": []},
)


class DeclaredContentTypeMiddleware:
    """415 when a body's Content-Type is not the kind its endpoint declares (JSON or a form).

    Falcon would happily parse a urlencoded form where JSON is expected; the contract says JSON. What each
    responder declares is read from spectree once and kept (its lookup was ~0.5 % of a worker under load).
    """

    def __init__(self):
        self._declared: dict[object, tuple[bool, bool]] = {}  # responder function -> (json body, form body)

    def process_resource(self, req, resp, resource, params):
        if resource is None or req.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return
        responder = getattr(resource, f"on_{req.method.lower()}", None)
        if responder is None:
            return
        declares_json, declares_form = self._declares(getattr(responder, "__func__", responder))
        if not (declares_json or declares_form):
            return
        content_type = (req.content_type or "").split(";")[0].strip().lower()
        if declares_json and content_type != "application/json":
            raise falcon.HTTPUnsupportedMediaType(
                title="Unsupported Content-Type", description="Send the body as application/json.")
        if declares_form and content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise falcon.HTTPUnsupportedMediaType(
                title="Unsupported Content-Type",
                description="Send the body as multipart/form-data or application/x-www-form-urlencoded.")

    def _declares(self, function) -> tuple[bool, bool]:
        declared = self._declared.get(function)
        if declared is None:
            metadata = api.get_function_metadata(function)
            declared = self._declared[function] = (bool(getattr(metadata, "json", None)),
                                                   bool(getattr(metadata, "form", None)))
        return declared
