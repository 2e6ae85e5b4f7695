"""Identifiers are checked where they enter: in the path, in the query string, in the token.

One middleware for every service, so no route can forget: a path parameter that is not a valid
identifier is a 404 (nothing by that name can exist), a query identifier that is not valid is a
400, and a query parameter given twice is a 400 (a first-wins or last-wins reading is how an
injected `?user_id=` would override the real one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from contracts.ids import ID_RULE, PATH_PARAMETERS, QUERY_PARAMETERS, SCHEMA_ID_RULE, is_schema_id
from contracts.problems import FieldError

from .errors import BadRequest, NotFound

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InvalidIdentifier(BadRequest):
    code, title = "invalid-identifier", "An identifier in the query string is not valid"


class RepeatedParameter(BadRequest):
    code, title = "repeated-parameter", "A query parameter is given more than once"


class NoSuchPath(NotFound):
    code, title = "not-found", "Not found"


def _rule(check: Callable[[object], bool]) -> str:
    return SCHEMA_ID_RULE if check is is_schema_id else ID_RULE


@web.middleware
async def identifier_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    for name, value in request.match_info.items():
        check = PATH_PARAMETERS.get(name)
        if check is not None and not check(value):
            raise NoSuchPath(f"no such {name.removesuffix('_id').replace('uid', 'user')} here")
    query = request.query
    for name in set(query.keys()):
        values = query.getall(name)
        if len(values) > 1:
            raise RepeatedParameter(
                f"'{name}' is given {len(values)} times; give it once",
                errors=[FieldError(pointer=f"/{name}", detail="repeated")],
            )
        check = QUERY_PARAMETERS.get(name)
        if check is not None and values[0] and not check(values[0]):
            raise InvalidIdentifier(
                f"'{name}' is not a valid identifier", errors=[FieldError(pointer=f"/{name}", detail=_rule(check))]
            )
    return await handler(request)
