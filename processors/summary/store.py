"""Summaries in the summary processor's own PostgreSQL database; every read filters by user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from contracts.processors import DerivedBlob
from processors.pg import PgStore
from processors.runtime.errors import RetryableError

from .migrations import MIGRATIONS

PROCESSOR_ID = "summary"
SCHEMA_ID = "chapter-summary-v1"
_COLUMNS = (
    "blob_id, user_id, parent_blob_id, source_version, book_id, title, summary, key_sentences, word_count,"
    " reading_time_minutes, words_per_minute, model_used, tokens_used, processing_time_ms, created_at"
)


class StoreUnavailable(RetryableError):
    code, title = "store-unavailable", "The summary processor's database is unavailable"


def _derived(row: asyncpg.Record) -> DerivedBlob:
    data = {
        "summary": row["summary"],
        "key_sentences": row["key_sentences"],
        "word_count": row["word_count"],
        "reading_time_minutes": row["reading_time_minutes"],
        "words_per_minute": row["words_per_minute"],
    }
    return DerivedBlob(
        id=row["blob_id"],
        user_id=row["user_id"],
        processor_id=PROCESSOR_ID,
        schema_id=SCHEMA_ID,
        data=data,
        parent_blob_id=row["parent_blob_id"],
        source_version=row["source_version"],
        book_id=row["book_id"],
        title=row["title"],
        preview=row["summary"][:200],
        processing_time_ms=row["processing_time_ms"],
        model_used=row["model_used"],
        tokens_used=row["tokens_used"],
        created_at=row["created_at"],
    )


class SummaryStore(PgStore):
    """One row per summary; its id is made from its source, so storing it twice is one row."""

    def __init__(self, url: str) -> None:
        super().__init__(url, name="summary", migrations=MIGRATIONS, storage_location="postgresql/summary/summaries")

    async def upsert(self, blob: DerivedBlob) -> None:
        data: dict[str, Any] = blob.data
        try:
            await self.pool.execute(
                f"INSERT INTO summaries ({_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                " ON CONFLICT (blob_id) DO NOTHING",
                blob.id,
                blob.user_id,
                blob.parent_blob_id,
                blob.source_version or 0,
                blob.book_id,
                blob.title,
                data["summary"],
                data.get("key_sentences", []),
                data["word_count"],
                data["reading_time_minutes"],
                data.get("words_per_minute", 0),
                blob.model_used,
                blob.tokens_used,
                blob.processing_time_ms,
                blob.created_at,
            )
        except (OSError, asyncpg.PostgresConnectionError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def get(self, user_id: str, blob_id: str) -> DerivedBlob | None:
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM summaries WHERE blob_id = $1 AND user_id = $2", blob_id, user_id
        )
        return _derived(row) if row else None

    async def batch(self, user_id: str, ids: list[str]) -> list[DerivedBlob]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM summaries WHERE blob_id = ANY($1::text[]) AND user_id = $2", ids, user_id
        )
        return [_derived(r) for r in rows]

    async def since(self, user_id: str, since: datetime | None, limit: int) -> list[DerivedBlob]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM summaries WHERE user_id = $1 AND ($2::timestamptz IS NULL OR created_at > $2)"
            " ORDER BY created_at, blob_id LIMIT $3",
            user_id,
            since,
            limit,
        )
        return [_derived(r) for r in rows]

    async def for_parent(self, user_id: str, parent_id: str) -> list[DerivedBlob]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM summaries WHERE user_id = $1 AND parent_blob_id = $2", user_id, parent_id
        )
        return [_derived(r) for r in rows]

    async def delete(self, user_id: str, ids: list[str]) -> int:
        result = await self.pool.execute(
            "DELETE FROM summaries WHERE blob_id = ANY($1::text[]) AND user_id = $2", ids, user_id
        )
        return int(result.split()[-1])
