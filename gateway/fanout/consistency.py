"""Read-your-writes across gateways: a write's answer carries a token; a read that sends it back is never older.

A gateway caches book views and drops them when the stream tells it of a change. A write made
through another gateway reaches this one a few milliseconds later, so a view served meanwhile can
miss it. The token closes that window: it is the time the index gave the write (`updated_at`, in
milliseconds), and a gateway serves a cached view to a read that carries it only once it has seen an
event of that user at least that recent (every cached view older than the write has been dropped by
then); until then it builds the view afresh from the stores.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

import msgspec
from aiohttp import web

from gateway.errors import BadConsistencyToken

HEADER = "Studio-Consistency"
MAX_TOKEN = 10**15  # milliseconds: year 33658; anything larger is not a time we wrote


class _Written(msgspec.Struct):
    updated_at: datetime | None = None


_WRITTEN = msgspec.json.Decoder(_Written)


def stamp(response: web.Response) -> web.Response:
    """Add the token of the write `response` answers (a stored blob), when it has one."""
    if response.status in (200, 201) and isinstance(response.body, bytes):
        try:
            written = _WRITTEN.decode(response.body)
        except msgspec.DecodeError:
            return response
        if written.updated_at is not None:
            response.headers[HEADER] = str(int(written.updated_at.timestamp() * 1000))
    return response


def requested(request: web.Request) -> int | None:
    """The token a read sent back; a malformed one is a 400, not a silently stale view."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16 or int(raw) > MAX_TOKEN:
        raise BadConsistencyToken(raw[:40])
    return int(raw)


class Seen:
    """The newest event time seen per user (milliseconds), for the `max_users` most recently active."""

    def __init__(self, max_users: int = 100_000) -> None:
        self._newest: OrderedDict[str, int] = OrderedDict()
        self._max = max_users

    def saw(self, user_id: str, occurred_at: str) -> None:
        try:
            moment = int(datetime.fromisoformat(occurred_at).timestamp() * 1000)
        except ValueError:
            return
        if moment > self._newest.get(user_id, -1):
            self._newest[user_id] = moment
        self._newest.move_to_end(user_id)
        if len(self._newest) > self._max:
            self._newest.popitem(last=False)

    def caught_up(self, user_id: str, token: int) -> bool:
        """True once an event of `user_id` at least as recent as `token` has been seen here."""
        return self._newest.get(user_id, -1) >= token
