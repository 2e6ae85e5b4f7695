"""The gateway's error vocabulary."""

from __future__ import annotations

import msgspec

from contracts.problems import Problem
from servicekit.errors import PROBLEM_TYPE_PREFIX, BadRequest, NotFound, ServiceError, Unavailable


class BadConsistencyToken(BadRequest):
    code, title = "bad-consistency-token", "Studio-Consistency must be the token a write answered with"

    def __init__(self, token: str) -> None:
        super().__init__(f"{token!r} is not a consistency token (milliseconds, digits only)")


class UpstreamUnavailable(Unavailable):
    code, title = "upstream-unavailable", "A service behind the gateway did not answer"


class UserNotFound(NotFound):
    """A path names a user other than the token's: answered as if nothing were there."""

    code, title = "not-found", "Not found"


class Overloaded(Unavailable):
    """A store was at its concurrency limit for the whole budget: nothing is broken, ask again."""

    code, title = "overloaded", "Busy: the request was not served, retry after the time given"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class IndexUnavailable(Unavailable):
    code, title = "index-unavailable", "The index service did not answer; nothing can be gathered without it"


class ViewNotFound(NotFound):
    code, title = "not-found", "Not found"


class UpstreamProblem(ServiceError):
    """A service behind the gateway refused the request: its problem, passed on as it was."""

    def __init__(self, status: int, payload: bytes) -> None:
        try:
            problem = msgspec.json.decode(payload, type=Problem)
        except msgspec.DecodeError:
            problem = Problem(type=PROBLEM_TYPE_PREFIX + "bad-request", title="Bad request", status=status)
        super().__init__(problem.detail, errors=problem.errors)
        self.status, self.title = status, problem.title
        self.code = problem.type.removeprefix(PROBLEM_TYPE_PREFIX)
