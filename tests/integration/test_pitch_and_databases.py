"""The pitch builder, and what the PostgreSQL processors' databases allow."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from contracts.validation import ValidatorCache, builtin_schemas, schemas_in
from processors.book_compiler.migrations import MIGRATIONS as BOOK_MIGRATIONS
from processors.pg import migrate
from processors.pitch_builder.migrations import MIGRATIONS as PITCH_MIGRATIONS
from studio_testing.harness import Stack
from studio_testing.waiting import eventually, index_entries

EXAMPLE = builtin_schemas()["pitch-input-v1"]["examples"][0]


@pytest.fixture
async def pitches(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(base_url=stack.pitch_builder, headers=headers) as session:
        yield session


async def test_the_schema_example_becomes_a_pitch_and_exports_as_markdown(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, pitches: aiohttp.ClientSession, user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": EXAMPLE}) as response:
        assert response.status == 201
        notes = await response.json()
    (entry,) = await eventually(
        lambda: index_entries(internal, user_id, processor_id="pitch-builder"), lambda e: len(e) == 1, what="a pitch"
    )
    assert (entry["parent_id"], entry["schema_id"], entry["title"]) == (notes["id"], "pitch-v1", EXAMPLE["title"])
    async with pitches.get(f"/blobs/{entry['id']}", params={"user_id": user_id}) as response:
        pitch = await response.json()
    validators = ValidatorCache()
    validators.put("pitch-v1", schemas_in("processors.pitch_builder")["pitch-v1"])
    assert validators.validate("pitch-v1", pitch["data"]) == []
    keys = [s["key"] for s in pitch["data"]["sections"]]
    assert keys == ["hook", "synopsis", "characters", "audience", "comparables", "positioning"]
    assert pitch["model_used"] == "offline" and pitch["version"] == 1
    async with pitches.get(f"/blobs/{entry['id']}/export", params={"user_id": user_id}) as response:
        assert response.content_type == "text/markdown"
        page = await response.text()
    assert page.startswith(f"# {EXAMPLE['title']}\n") and EXAMPLE["logline"] in page
    for heading in ("## The hook", "## Synopsis", "## Characters", "## Comparables"):
        assert heading in page
    assert "**Mara Quist** (protagonist)" in page and "The Essex Serpent and The Lamplighters" in page
    assert pitch["data"]["word_count"] == len(page.split())


async def test_an_edit_of_the_notes_makes_pitch_version_2_and_version_1_stays_readable(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, pitches: aiohttp.ClientSession, user_id: str
) -> None:
    async with api.post("/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": EXAMPLE}) as response:
        notes = await response.json()
    (first,) = await eventually(
        lambda: index_entries(internal, user_id, processor_id="pitch-builder"), lambda e: len(e) == 1, what="v1"
    )
    revised = {**EXAMPLE, "logline": "An archivist inherits a lighthouse whose ledger predicts the next shipwreck."}
    async with api.put(f"/api/v1/blobs/{notes['id']}", json={"data": revised}) as response:
        assert response.status == 200
    (second,) = await eventually(
        lambda: index_entries(internal, user_id, processor_id="pitch-builder"),
        lambda e: len(e) == 1 and e[0]["id"] != first["id"],
        what="v2 in the index",
    )
    async with pitches.post("/blobs/batch", json={"user_id": user_id, "ids": [first["id"], second["id"]]}) as response:
        found = {b["id"]: b for b in (await response.json())["blobs"]}
    assert found[first["id"]]["version"] == 1 and found[second["id"]]["version"] == 2
    assert "predicts the next shipwreck" in found[second["id"]]["data"]["one_pager"]


def _url(stack: Stack, processor: str, database: str | None = None) -> str:
    url = str(stack.refresh()["databases"][processor])
    return url if database is None else url.rsplit("/", 1)[0] + "/" + database


async def test_each_processor_role_opens_only_its_own_database(stack: Stack) -> None:
    for processor, own, other in (
        ("book-compiler", "book_compiler", "pitch_builder"),
        ("pitch-builder", "pitch_builder", "book_compiler"),
    ):
        connection = await asyncpg.connect(_url(stack, processor))
        assert await connection.fetchval("SELECT current_database()") == own
        await connection.close()
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(_url(stack, processor, other))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(_url(stack, processor, "postgres"))


@pytest.mark.parametrize(
    "processor, migrations", [("book-compiler", BOOK_MIGRATIONS), ("pitch-builder", PITCH_MIGRATIONS)]
)
async def test_migrations_run_twice_without_harm(stack: Stack, processor: str, migrations: tuple[str, ...]) -> None:
    schema = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_url(stack, processor))
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(
        _url(stack, processor), min_size=1, max_size=2, server_settings={"search_path": schema}
    )
    assert pool is not None
    try:
        assert await migrate(pool, f"{processor}-{schema}", migrations) == len(migrations)
        tables: list[Any] = await pool.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema
        )
        assert await migrate(pool, f"{processor}-{schema}", migrations) == 0
        again: list[Any] = await pool.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema
        )
        assert [t["table_name"] for t in tables] == [t["table_name"] for t in again]
        assert "schema_migrations" in [t["table_name"] for t in tables]
    finally:
        await pool.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
