"""Request validation and the OpenAPI document, from the same pydantic declarations (spectree)."""
from __future__ import annotations

import falcon
from spectree import SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData, SecureType


def _reject_invalid(req, resp, error, _instance, *_args):
    if error is None:
        return
    problems = []
    for item in error.errors()[:10]:
        where = ".".join(str(p) for p in item.get("loc", ())) or "body"
        problems.append(f"{where}: {item.get('msg')}")
    raise falcon.HTTPUnprocessableEntity(title="Invalid request", description="; ".join(problems))


api = SpecTree(
    "falcon", title="prosaas", version="1", path="apidoc", annotations=True, before=_reject_invalid, mode="strict",
    security_schemes=[
        SecurityScheme(name="business_key", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")),
    ],
    security={"business_key": []},
)
