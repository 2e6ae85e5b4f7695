"""RFC 9457 problem details, the one error body every service returns."""

from __future__ import annotations

import msgspec

PROBLEM_CONTENT_TYPE = "application/problem+json"


class FieldError(msgspec.Struct, frozen=True):
    """One failing field: a JSON pointer into the request body and what is wrong there."""

    pointer: str
    detail: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An error answer: `type` is a stable code URI, `title` a short human summary."""

    type: str
    title: str
    status: int
    detail: str = ""
    errors: list[FieldError] | None = None
    request_id: str | None = None
