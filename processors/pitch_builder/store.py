"""Pitches and their sections in the pitch builder's own PostgreSQL database."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from contracts.processors import DerivedBlob
from processors.pg import PgStore
from processors.runtime.errors import RetryableError

from .migrations import MIGRATIONS

_COLUMNS = (
    "id, blob_id, user_id, parent_blob_id, source_version, version, title, logline, one_pager, word_count,"
    " model_used, tokens_used, processing_time_ms, book_id, created_at, details"
)
# What a pitch says beyond its sections, kept together: facts of the notes, the manuscript it
# counted, and whether a newer compile of that book changed the count since.
DETAILS = ("genre", "tone", "comparables", "author_name", "author_bio", "manuscript", "stale")


class StoreUnavailable(RetryableError):
    code, title = "store-unavailable", "The pitch builder's database is unavailable"


def _derived(pitch: asyncpg.Record, sections: list[asyncpg.Record]) -> DerivedBlob:
    data = {
        "title": pitch["title"],
        "logline": pitch["logline"],
        "one_pager": pitch["one_pager"],
        "word_count": pitch["word_count"],
        "version": pitch["version"],
        "sections": [{"key": s["key"], "heading": s["heading"], "body": s["body"]} for s in sections],
        **{k: v for k, v in pitch["details"].items() if k in DETAILS},
    }
    return DerivedBlob(
        id=pitch["blob_id"],
        user_id=pitch["user_id"],
        processor_id="pitch-builder",
        schema_id="pitch-v1",
        data=data,
        parent_blob_id=pitch["parent_blob_id"],
        source_version=pitch["source_version"],
        version=pitch["version"],
        book_id=pitch["book_id"],
        title=pitch["title"],
        preview=pitch["logline"][:200],
        processing_time_ms=pitch["processing_time_ms"],
        model_used=pitch["model_used"],
        tokens_used=pitch["tokens_used"],
        created_at=pitch["created_at"],
    )


class PitchStore(PgStore):
    """Versioned like books: every version of the input makes the next pitch version, and old ones stay."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url, name="pitch_builder", migrations=MIGRATIONS, storage_location="postgresql/pitch_builder/pitches"
        )

    async def upsert(self, blob: DerivedBlob) -> None:
        """Store a pitch (idempotent on its id) as the next version for its input."""
        data: dict[str, Any] = blob.data
        for _ in range(5):
            try:
                async with self.pool.acquire() as connection, connection.transaction():
                    if await connection.fetchval("SELECT 1 FROM pitches WHERE blob_id = $1", blob.id):
                        return
                    version = 1 + await connection.fetchval(
                        "SELECT COALESCE(MAX(version), 0) FROM pitches WHERE user_id = $1 AND parent_blob_id = $2",
                        blob.user_id,
                        blob.parent_blob_id,
                    )
                    pitch_id = uuid.uuid4()
                    await connection.execute(
                        f"INSERT INTO pitches ({_COLUMNS})"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                        pitch_id,
                        blob.id,
                        blob.user_id,
                        blob.parent_blob_id,
                        blob.source_version or 0,
                        version,
                        data["title"],
                        data["logline"],
                        data["one_pager"],
                        data["word_count"],
                        blob.model_used,
                        blob.tokens_used,
                        blob.processing_time_ms,
                        blob.book_id,
                        blob.created_at,
                        {k: data[k] for k in DETAILS if k in data},
                    )
                    await connection.executemany(
                        "INSERT INTO pitch_sections (id, pitch_id, position, key, heading, body)"
                        " VALUES ($1, $2, $3, $4, $5, $6)",
                        [
                            (uuid.uuid4(), pitch_id, i, s["key"], s["heading"], s["body"])
                            for i, s in enumerate(data["sections"])
                        ],
                    )
                    return
            except asyncpg.UniqueViolationError:
                continue  # a concurrent version took the number, or the same pitch landed: look again
            except (OSError, asyncpg.PostgresConnectionError) as exc:
                raise StoreUnavailable(str(exc)) from exc
        raise StoreUnavailable(f"could not store pitch {blob.id}")

    async def _with_sections(self, pitches: list[asyncpg.Record]) -> list[DerivedBlob]:
        if not pitches:
            return []
        rows = await self.pool.fetch(
            "SELECT pitch_id, key, heading, body FROM pitch_sections"
            " WHERE pitch_id = ANY($1::uuid[]) ORDER BY position",
            [p["id"] for p in pitches],
        )
        by_pitch: dict[uuid.UUID, list[asyncpg.Record]] = {}
        for row in rows:
            by_pitch.setdefault(row["pitch_id"], []).append(row)
        return [_derived(p, by_pitch.get(p["id"], [])) for p in pitches]

    async def get(self, user_id: str, blob_id: str) -> DerivedBlob | None:
        found = await self._with_sections(
            list(
                await self.pool.fetch(
                    f"SELECT {_COLUMNS} FROM pitches WHERE blob_id = $1 AND user_id = $2", blob_id, user_id
                )
            )
        )
        return found[0] if found else None

    async def batch(self, user_id: str, ids: list[str]) -> list[DerivedBlob]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM pitches WHERE blob_id = ANY($1::text[]) AND user_id = $2", ids, user_id
        )
        return await self._with_sections(list(rows))

    async def since(self, user_id: str, since: datetime | None, limit: int) -> list[DerivedBlob]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM pitches WHERE user_id = $1 AND ($2::timestamptz IS NULL OR created_at > $2)"
            " ORDER BY created_at, blob_id LIMIT $3",
            user_id,
            since,
            limit,
        )
        return await self._with_sections(list(rows))

    async def for_parent(self, user_id: str, parent_id: str) -> list[DerivedBlob]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM pitches WHERE user_id = $1 AND parent_blob_id = $2 ORDER BY version",
            user_id,
            parent_id,
        )
        return await self._with_sections(list(rows))

    async def record_compile(self, user_id: str, book_id: str, version: int, word_count: int) -> int:
        """Remember a book's newest compile; mark the pitches that counted an older one with
        another word count stale. How many were marked."""
        async with self.pool.acquire() as connection, connection.transaction():
            newer = await connection.fetchval(
                "INSERT INTO book_compiles (user_id, book_id, version, word_count) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (user_id, book_id)"
                " DO UPDATE SET version = EXCLUDED.version, word_count = EXCLUDED.word_count"
                " WHERE book_compiles.version < EXCLUDED.version RETURNING 1",
                user_id,
                book_id,
                version,
                word_count,
            )
            if not newer:
                return 0  # an older compile, or this one again
            result = await connection.execute(
                "UPDATE pitches SET details = details || jsonb_build_object('stale', jsonb_build_object("
                "'book_version', $3::int, 'words', $4::int))"
                " WHERE user_id = $1 AND details->'manuscript'->>'book_id' = $2"
                " AND (details->'manuscript'->>'version')::int < $3 AND (details->'manuscript'->>'words')::int <> $4",
                user_id,
                book_id,
                version,
                word_count,
            )
            return int(result.split()[-1])

    async def newest_compile(self, user_id: str, book_id: str) -> tuple[int, int] | None:
        """A book's newest compiled version and its word count, as the compiles announced them."""
        row = await self.pool.fetchrow(
            "SELECT version, word_count FROM book_compiles WHERE user_id = $1 AND book_id = $2", user_id, book_id
        )
        return (row["version"], row["word_count"]) if row else None

    async def delete(self, user_id: str, ids: list[str]) -> int:
        result = await self.pool.execute(
            "DELETE FROM pitches WHERE blob_id = ANY($1::text[]) AND user_id = $2", ids, user_id
        )
        return int(result.split()[-1])
