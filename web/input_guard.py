"""Is this input text we can store and log? Control characters and deep JSON are refused at the edge (422).

One rule for every string that comes in: the path (with its route parameters), query names and values,
every string (keys included) of a JSON body or form. PostgreSQL cannot store NUL, and a control character
in a stored value reaches logs, dashboards and third parties. Free text inside a body may hold tab,
line feed and carriage return; nothing else below U+0020, nor DEL, nor the C1 controls U+0080-U+009F.

    >>> control_character_problem("abc\\x00")
    'control character U+0000 at position 3'
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, Optional

import falcon
from falcon.media import JSONHandler, URLEncodedFormHandler
from pydantic import Field

# Paths and query strings: no control character at all. Bodies: text may keep \t \n \r.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TEXT_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAX_JSON_DEPTH = 32  # the deepest body we declare is 4 levels; 32 leaves room for free-form `data`


def control_character_problem(value: str, *, multiline: bool = False) -> Optional[str]:
    """Why `value` is refused (its first control character), or None when it is acceptable text."""
    found = (TEXT_CONTROL_CHARACTER if multiline else CONTROL_CHARACTER).search(value)
    if found is None:
        return None
    return f"control character U+{ord(found.group()):04X} at position {found.start()}"


def refuse_control_characters(value: str, *, multiline: bool = False) -> str:
    """For pydantic validators: the value itself, or ValueError naming the character."""
    problem = control_character_problem(value, multiline=multiline)
    if problem:
        raise ValueError(problem)
    return value


def _invalid(where: str, problem: str) -> falcon.HTTPUnprocessableEntity:
    return falcon.HTTPUnprocessableEntity(title="Invalid request", description=f"{where}: {problem}")


def _first_problem(value: Any) -> Optional[tuple[int, Any, str]]:
    """(index in walk order, node, problem) of the first refused node, walking iteratively without paths."""
    pending = [(value, 1)]
    index = 0
    while pending:
        node, depth = pending.pop()
        index += 1
        if depth > MAX_JSON_DEPTH:
            return index, node, f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(node, str):
            if TEXT_CONTROL_CHARACTER.search(node):
                return index, node, control_character_problem(node, multiline=True)
        elif isinstance(node, dict):
            for key, item in node.items():
                if CONTROL_CHARACTER.search(str(key)):
                    return index, node, "a key: " + control_character_problem(str(key))
                pending.append((item, depth + 1))
        elif isinstance(node, list):
            pending.extend((item, depth + 1) for item in node)
    return None


def _path_to(value: Any, target_index: int, where: str) -> str:
    """The path (body.a[3].b) of the node _first_problem found, by the same walk with paths: only on refusal."""
    pending = [(value, where)]
    index = 0
    while pending:
        node, path = pending.pop()
        index += 1
        if index == target_index:
            return path
        if isinstance(node, dict):
            pending.extend((item, f"{path}.{str(key)[:40]}") for key, item in node.items())
        elif isinstance(node, list):
            pending.extend((item, f"{path}[{n}]") for n, item in enumerate(node))
    return where


def check_body_value(value: Any, where: str = "body") -> None:
    """Refuse (422) control characters in any string or key of a parsed body, and nesting past the cap."""
    found = _first_problem(value)
    if found is not None:
        index, _node, problem = found
        raise _invalid(_path_to(value, index, where), problem)


def parse_json_body(data: bytes | str) -> Any:
    """json.loads with the edge's rules: ValueError for text that is not JSON, 422 for what the rules refuse."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise _invalid("body", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    check_body_value(value)
    return value


class GuardedJSONHandler(JSONHandler):
    """Falcon's JSON media handler, with parse_json_body's depth cap and control-character check."""

    def _deserialize(self, data: bytes) -> Any:
        if not data:
            raise falcon.MediaNotFoundError("JSON")
        try:
            return parse_json_body(data)
        except ValueError as exc:
            raise falcon.MediaMalformedError("JSON") from exc


class GuardedFormHandler(URLEncodedFormHandler):
    """Falcon's urlencoded form handler; every name and value checked like a JSON body's strings."""

    def deserialize(self, stream, content_type, content_length):
        form = super().deserialize(stream, content_type, content_length)
        check_body_value(form, "form")
        return form


class InputGuardMiddleware:
    """422 for a control character in the (decoded) path or in any query name or value, before routing."""

    def process_request(self, req, resp):
        problem = control_character_problem(req.path)
        if problem:
            raise _invalid("path", problem)
        for name, value in req.params.items():
            for item in (value if isinstance(value, list) else [value]):
                problem = control_character_problem(name) or control_character_problem(str(item))
                if problem:
                    raise _invalid(f"query parameter {name[:40]!r}", problem)


def install_input_guards(app: falcon.App) -> None:
    app.req_options.media_handlers[falcon.MEDIA_JSON] = GuardedJSONHandler()
    app.req_options.media_handlers[falcon.MEDIA_URLENCODED] = GuardedFormHandler()


# A row id as PostgreSQL's BIGINT holds it: anything larger is refused at validation, before any enqueue.
DatabaseId = Annotated[int, Field(ge=1, le=2 ** 63 - 1)]
