"""The published JSON Schemas of the contract are the Structs': regenerate with `python -m contracts.wire`."""

from __future__ import annotations

import pytest

from contracts.wire import DIRECTORY, MESSAGES, rendered


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_the_published_schema_matches_the_struct(name: str) -> None:
    published = DIRECTORY / f"{name}.json"
    assert published.exists(), f"docs/wire/{name}.json is missing: run python -m contracts.wire"
    assert published.read_text() == rendered(name), (
        f"docs/wire/{name}.json drifted from its Struct: run python -m contracts.wire"
    )


def test_nothing_is_published_that_is_not_a_message() -> None:
    assert {p.stem for p in DIRECTORY.glob("*.json")} == set(MESSAGES)
