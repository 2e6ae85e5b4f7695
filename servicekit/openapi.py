"""An OpenAPI 3.1 document made from a service's routes and the msgspec models they speak.

A handler says what it reads and answers with `@described(...)`; its docstring is the summary (first
line) and description. Paths and their parameters come from the router; schemas from the Structs
(`msgspec.json.schema_components`, JSON Schema 2020-12 as OpenAPI 3.1 takes it); error answers are
the problem types of `ServiceError` and its subclasses.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from contracts.ids import ID_PATTERN, SCHEMA_ID_PATTERN
from contracts.problems import Problem

from .errors import ServiceError

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{name}"
_PARAM = re.compile(r"\{(\w+)\}")
PROBLEM_STATUSES = {
    400: "The request is malformed (bad JSON, a repeated query parameter, an unknown format).",
    401: "No bearer token, or one that does not verify.",
    403: "The path names another user than the token's.",
    404: "No such thing for this user (another user's is not found either).",
    413: "The body is over the size limit.",
    415: "The body is not JSON.",
    422: "A value breaks its schema; `errors` points at each field.",
    503: "A service behind the gateway is away or busy; `Retry-After` says when to try again.",
}


@dataclass(frozen=True)
class Query:
    """A query parameter: its name, JSON Schema and meaning."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    body: Any = None  # the request body's type
    response: Any = None  # the 2xx JSON answer's type
    status: int = 200
    query: tuple[Query, ...] = ()
    files: tuple[str, ...] = ()  # media types of a file answer (instead of JSON)
    public: bool = False  # needs no token
    extra: dict[int, str] = field(default_factory=dict)  # other statuses it answers, and when
    tags: tuple[str, ...] = ()


def described(**operation: Any) -> Callable[[F], F]:
    """Attach what an operation reads and answers to its handler."""

    def attach(handler: F) -> F:
        handler.__openapi__ = Operation(**operation)  # type: ignore[attr-defined]
        return handler

    return attach


PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "uid": {"type": "string", "pattern": ID_PATTERN, "description": "the token's user id"},
    "schema_id": {"type": "string", "pattern": SCHEMA_ID_PATTERN},
    "a": {"type": "integer", "minimum": 1},
    "b": {"type": "integer", "minimum": 1},
}


def document(routes: Iterable[web.AbstractRoute], *, title: str, version: str, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every described route among `routes`."""
    paths: dict[str, dict[str, Any]] = {}
    types: list[Any] = [Problem]
    for route in routes:
        operation: Operation | None = getattr(route.handler, "__openapi__", None)
        if operation is None or route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        doc = inspect.getdoc(route.handler) or ""
        summary, _, more = doc.partition("\n")
        entry: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": summary.strip(),
            "parameters": [],
            "responses": {},
            "tags": list(operation.tags),
        }
        if more.strip():
            entry["description"] = more.strip()
        for name in _PARAM.findall(path):
            schema = PATH_SCHEMAS.get(name, {"type": "string", "pattern": ID_PATTERN})
            entry["parameters"].append({"name": name, "in": "path", "required": True, "schema": schema})
        for query in operation.query:
            entry["parameters"].append(
                {
                    "name": query.name,
                    "in": "query",
                    "required": False,
                    "schema": query.schema,
                    "description": query.description,
                }
            )
        if operation.body is not None:
            types.append(operation.body)
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": REF.format(name=_name(operation.body))}}},
            }
        answer: dict[str, Any] = {"description": "OK" if operation.status < 300 else "Accepted"}
        if operation.response is not None:
            types.append(operation.response)
            answer["content"] = {"application/json": {"schema": {"$ref": REF.format(name=_name(operation.response))}}}
        elif operation.files:
            answer["content"] = {media: {"schema": {"type": "string", "format": "binary"}} for media in operation.files}
        elif operation.status == 204:
            answer["description"] = "Done; no content"
        entry["responses"][str(operation.status)] = answer
        for status, meaning in operation.extra.items():
            entry["responses"][str(status)] = {"description": meaning}
        for status, meaning in PROBLEM_STATUSES.items():
            if operation.public and status in (401, 403):
                continue
            entry["responses"].setdefault(
                str(status),
                {
                    "description": meaning,
                    "content": {"application/problem+json": {"schema": {"$ref": REF.format(name="Problem")}}},
                },
            )
        if operation.public:
            entry["security"] = []
        paths.setdefault(path, {})[route.method.lower()] = entry
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description + "\n\n" + _problem_types()},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "`sub` is the user id",
                }
            },
        },
    }


def _name(kind: Any) -> str:
    return str(getattr(kind, "__name__", kind))


def _problem_types() -> str:
    """Every problem type a service can answer, as a Markdown table: its `type`, status and title."""
    seen: dict[str, ServiceError | type[ServiceError]] = {}
    pending: list[type[ServiceError]] = [ServiceError]
    while pending:
        kind = pending.pop()
        seen.setdefault(kind.code, kind)
        pending.extend(kind.__subclasses__())
    rows = [f"| `urn:studio:problem:{code}` | {kind.status} | {kind.title} |" for code, kind in sorted(seen.items())]
    return (
        "Problem types (`application/problem+json`, RFC 9457):\n\n| type | status | title |\n| --- | --- | --- |\n"
        + "\n".join(rows)
    )
