"""Query parameters of internal routes: the user every query is filtered by, bounded whole numbers."""

from __future__ import annotations

import re

from aiohttp import web

from contracts.ids import ID_RULE, is_id
from contracts.problems import FieldError

from .errors import BadRequest, Unprocessable

_DIGITS = re.compile(r"[0-9]{1,19}\Z")  # ASCII digits only: str.isdigit() also takes '١٢٣'
INT64_MAX = 2**63 - 1


def int_param(
    request: web.Request, name: str, *, default: int | None = None, minimum: int = 0, maximum: int = INT64_MAX
) -> int | None:
    """`?name=N` as an int within minimum..maximum; `default` when absent; 422 otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not _DIGITS.match(raw) or not minimum <= int(raw) <= maximum:
        raise Unprocessable(
            f"{name} must be a whole number from {minimum} to {maximum}",
            errors=[FieldError(pointer=f"/{name}", detail=f"{minimum}..{maximum}")],
        )
    return int(raw)


def bool_param(request: web.Request, name: str, *, default: bool = False) -> bool:
    """`?name=true|false`; `default` when absent; 422 otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw not in ("true", "false"):
        raise Unprocessable(
            f"{name} must be true or false", errors=[FieldError(pointer=f"/{name}", detail="true or false")]
        )
    return raw == "true"


def user_param(request: web.Request) -> str:
    """The user every query is filtered by: `{uid}` in the path, else `?user_id=`; never both differing."""
    in_path, in_query = request.match_info.get("uid"), request.query.get("user_id")
    if in_path and in_query and in_path != in_query:
        raise BadRequest(
            "the path names one user and the query another",
            errors=[FieldError(pointer="/user_id", detail="conflicts with the path")],
        )
    value = in_path or in_query
    if not value or not is_id(value):
        raise Unprocessable("a valid user_id is required", errors=[FieldError(pointer="/user_id", detail=ID_RULE)])
    return value


def version_param(request: web.Request, name: str) -> int:
    """A version number in the path (`{name}`): a whole number from 1; 422 otherwise."""
    raw = request.match_info.get(name, "")
    if not (_DIGITS.match(raw) and len(raw) <= 10) or not 1 <= int(raw) <= 2**31 - 1:
        raise Unprocessable(
            f"{name} must be a version number", errors=[FieldError(pointer=f"/{name}", detail="1..2147483647")]
        )
    return int(raw)


def id_param(request: web.Request, name: str) -> str:
    """An identifier from the query, checked against the one grammar of ids."""
    value = request.query.get(name, "")
    if not is_id(value):
        raise Unprocessable(f"{name} is not a valid id", errors=[FieldError(pointer=f"/{name}", detail=ID_RULE)])
    return value
