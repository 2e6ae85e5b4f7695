"""The gateway's error vocabulary."""

from __future__ import annotations

from servicekit.errors import NotFound, Unavailable


class UpstreamUnavailable(Unavailable):
    code, title = "upstream-unavailable", "A service behind the gateway did not answer"


class UserNotFound(NotFound):
    """A path names a user other than the token's: answered as if nothing were there."""

    code, title = "not-found", "Not found"
