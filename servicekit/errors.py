"""The base of every service's error vocabulary: status, stable code, title, fields."""

from __future__ import annotations

from contracts.problems import FieldError, Problem

PROBLEM_TYPE_PREFIX = "urn:studio:problem:"


class ServiceError(Exception):
    """An error with a place in the HTTP contract; subclasses set `status`, `code`, `title`."""

    status = 500
    code = "internal-error"
    title = "Internal error"
    retryable = False
    close_connection = False  # the body is broken or gone: answer, then close the connection
    retry_after: float | None = None  # seconds, sent as Retry-After

    def __init__(self, detail: str = "", *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors

    def problem(self, request_id: str | None = None) -> Problem:
        return Problem(
            type=PROBLEM_TYPE_PREFIX + self.code,
            title=self.title,
            status=self.status,
            detail=self.detail,
            errors=self.errors,
            request_id=request_id,
        )


class BadRequest(ServiceError):
    status, code, title = 400, "bad-request", "Bad request"


class UnknownFormat(BadRequest):
    """An export asked for in a format there is none of."""

    code, title = "unknown-format", "No such export format"


class MalformedJson(BadRequest):
    code, title = "malformed-json", "The body is not valid JSON"


class TooDeep(BadRequest):
    code, title = "json-too-deep", "The JSON body is nested too deeply"


class UnreadableBody(BadRequest):
    code, title = "unreadable-body", "The body cannot be read"
    close_connection = True


class ClientGone(BadRequest):
    """The client disconnected before its body arrived: nobody reads the answer."""

    code, title = "client-gone", "The client went away"
    close_connection = True


class Unauthorized(ServiceError):
    status, code, title = 401, "unauthorized", "Missing or invalid credentials"


class Forbidden(ServiceError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ServiceError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(ServiceError):
    status, code, title = 409, "conflict", "Conflict"


class BodyTimeout(ServiceError):
    status, code, title = 408, "body-timeout", "The body did not arrive in time"
    close_connection = True


class PreconditionFailed(ServiceError):
    status, code, title = 412, "version-mismatch", "The resource has changed"


class PayloadTooLarge(ServiceError):
    status, code, title = 413, "payload-too-large", "The body is larger than allowed"


class UnsupportedMediaType(ServiceError):
    status, code, title = 415, "unsupported-media-type", "The body must be JSON"


class Unprocessable(ServiceError):
    status, code, title = 422, "validation-failed", "The body does not match its schema"


class Unstorable(Unprocessable):
    code, title = "unstorable-value", "The body holds values no store can keep"


class Unavailable(ServiceError):
    status, code, title = 503, "unavailable", "A dependency is unavailable"
    retryable = True
    retry_after: float | None = 1.0  # a dependency that did not answer in time is asked again, not given up on


class RenderLimit(Unprocessable):
    """A file that cannot be made within the renderer's time or memory limit (the same ask fails again)."""

    code, title = "render-limit", "The file is too large to make within the renderer's limits"


class RenderFailed(ServiceError):
    """A renderer failed on its own: a defect, not the writer's text, and not worth retrying."""

    code, title = "render-failed", "The file could not be made"
