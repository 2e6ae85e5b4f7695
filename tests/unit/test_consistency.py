"""The consistency token: what a gateway has seen of a user, and the header a read sends back."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.errors import BadConsistencyToken
from gateway.fanout.consistency import Seen, requested


def test_a_token_is_met_once_an_event_as_recent_has_been_seen() -> None:
    seen = Seen()
    assert not seen.caught_up("u1", 0)
    seen.saw("u1", "2026-11-22T10:00:00.250000Z")
    token = 1795341600250  # that moment in milliseconds
    assert seen.caught_up("u1", token)
    assert not seen.caught_up("u1", token + 1)
    assert not seen.caught_up("u2", token)
    seen.saw("u1", "2026-11-22T09:00:00Z")  # an older event does not move it back
    assert seen.caught_up("u1", token)
    seen.saw("u1", "not a time")
    assert seen.caught_up("u1", token)


def test_users_beyond_the_limit_are_forgotten_oldest_first_and_then_read_fresh() -> None:
    seen = Seen(max_users=2)
    for user in ("a", "b", "c"):
        seen.saw(user, "2026-11-22T10:00:00Z")
    assert not seen.caught_up("a", 0) and seen.caught_up("b", 0) and seen.caught_up("c", 0)


@pytest.mark.parametrize("raw, expected", [(None, None), ("0", 0), ("1795341600250", 1795341600250)])
def test_a_well_formed_token_is_read(raw: str | None, expected: int | None) -> None:
    headers = {} if raw is None else {"Studio-Consistency": raw}
    assert requested(make_mocked_request("GET", "/", headers=headers)) == expected


@pytest.mark.parametrize("raw", ["", "soon", "-1", "1.5", "1e3", " 1", "9" * 17, "٣"])
def test_a_malformed_token_is_refused(raw: str) -> None:
    with pytest.raises(BadConsistencyToken):
        requested(make_mocked_request("GET", "/", headers={"Studio-Consistency": raw}))
