"""Whole-number query parameters, bounded, so no huge or odd number reaches a store."""

from __future__ import annotations

import re

from aiohttp import web

from contracts.problems import FieldError

from .errors import Unprocessable

_DIGITS = re.compile(r"[0-9]{1,19}\Z")  # ASCII digits only: str.isdigit() also takes '١٢٣'
INT64_MAX = 2**63 - 1


def int_param(request: web.Request, name: str, *, default: int | None = None, minimum: int = 0, maximum: int = INT64_MAX) -> int | None:
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
