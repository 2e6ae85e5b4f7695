"""Compiled books in the book compiler's own PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts import subjects
from contracts.events import BookCompiled
from contracts.models import BookMetadata
from contracts.processors import DerivedBlob
from processors.pg import PgStore, enqueue
from processors.runtime.errors import RetryableError

from .compiler import CompiledChapterText, plain_text
from .exports import Manuscript
from .migrations import MIGRATIONS

PROCESSOR_ID = "book-compiler"
SCHEMA_ID = "compiled-book-v1"
PREVIEW_CHARS = 200
METADATA = frozenset(BookMetadata.__struct_fields__)
_BOOK_COLUMNS = (
    "id, blob_id, request_id, user_id, book_id, version, title, word_count, chapter_count, source_blob_ids,"
    " compile_config, timings, created_at, left(full_text, 200) AS preview"
)
_CHAPTER_COLUMNS = (
    "chapter_num, title, draft_blob_id, expanded_blob_id, draft_version, source, fallback_reason,"
    " compiled_text, word_count"
)


class StoreUnavailable(RetryableError):
    code, title = "store-unavailable", "The book compiler's database is unavailable"


@dataclass(frozen=True)
class SavedBook:
    blob_id: str
    version: int
    created: bool


def _chapter_record(row: asyncpg.Record) -> dict[str, Any]:
    record: dict[str, Any] = {
        "chapter": row["chapter_num"],
        "title": row["title"],
        "source": row["source"],
        "word_count": row["word_count"],
        "source_blob_id": row["expanded_blob_id"] or row["draft_blob_id"],
    }
    if row["draft_version"] is not None:
        record["draft_version"] = row["draft_version"]
    if row["fallback_reason"]:
        record["fallback_reason"] = row["fallback_reason"]
    return record


def _derived(book: asyncpg.Record, chapters: list[asyncpg.Record]) -> DerivedBlob:
    config = book["compile_config"]
    data = {
        "book_id": book["book_id"],
        "title": book["title"],
        "version": book["version"],
        "chapter_count": book["chapter_count"],
        "word_count": book["word_count"],
        "chapters": [_chapter_record(c) for c in chapters],
        "prefer": config.get("prefer", "expanded"),
        "fallbacks": sum(1 for c in chapters if c["fallback_reason"]),
    }
    return DerivedBlob(
        id=book["blob_id"],
        user_id=book["user_id"],
        processor_id=PROCESSOR_ID,
        schema_id=SCHEMA_ID,
        data=data,
        book_id=book["book_id"],
        version=book["version"],
        title=book["title"],
        preview=book["preview"],
        created_at=book["created_at"],
        processing_time_ms=int(book["timings"].get("total_ms", 0)),
    )


class CompiledBookStore(PgStore):
    def __init__(self, url: str) -> None:
        super().__init__(
            url, name="book_compiler", migrations=MIGRATIONS, storage_location="postgresql/book_compiler/compiled_books"
        )

    async def by_request(self, request_id: str) -> SavedBook | None:
        row = await self.pool.fetchrow("SELECT blob_id, version FROM compiled_books WHERE request_id = $1", request_id)
        return SavedBook(row["blob_id"], row["version"], created=False) if row else None

    async def save(
        self,
        *,
        user_id: str,
        book_id: str,
        title: str,
        request_id: str,
        prefer: str,
        chapters: list[CompiledChapterText],
        timings: dict[str, float],
        blob_id_for: Callable[[int], str],
        metadata: dict[str, Any] | None = None,
    ) -> SavedBook:
        """Store a new version with its chapters and its `book.compiled` event, in one transaction."""
        full_text = plain_text(title, chapters)
        word_count = sum(c.word_count for c in chapters)
        sources = [c.expanded_blob_id or c.draft_blob_id for c in chapters]
        for _ in range(5):
            try:
                async with self.pool.acquire() as connection, connection.transaction():
                    version = 1 + await connection.fetchval(
                        "SELECT COALESCE(MAX(version), 0) FROM compiled_books WHERE user_id = $1 AND book_id = $2",
                        user_id,
                        book_id,
                    )
                    compiled_id = uuid.uuid4()
                    blob_id = blob_id_for(version)
                    await connection.execute(
                        "INSERT INTO compiled_books (id, blob_id, request_id, user_id, book_id, version, title,"
                        " full_text, word_count, chapter_count, source_blob_ids, compile_config, timings, metadata)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                        compiled_id,
                        blob_id,
                        request_id,
                        user_id,
                        book_id,
                        version,
                        title,
                        full_text,
                        word_count,
                        len(chapters),
                        sources,
                        {"prefer": prefer},
                        timings,
                        metadata or {},
                    )
                    await connection.executemany(
                        f"INSERT INTO book_chapters (id, book_id, {_CHAPTER_COLUMNS})"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        [
                            (
                                uuid.uuid4(),
                                compiled_id,
                                c.chapter,
                                c.title[:500],
                                c.draft_blob_id,
                                c.expanded_blob_id,
                                c.draft_version,
                                c.source,
                                c.fallback_reason,
                                c.text,
                                c.word_count,
                            )
                            for c in chapters
                        ],
                    )
                    event = BookCompiled(
                        event_id=f"compiled-{blob_id}",
                        user_id=user_id,
                        blob_id=blob_id,
                        schema_id=SCHEMA_ID,
                        version=version,
                        occurred_at=datetime.now(UTC),
                        book_id=book_id,
                        request_id=request_id,
                        chapter_count=len(chapters),
                        word_count=word_count,
                        fallbacks=sum(1 for c in chapters if c.fallback_reason),
                    )
                    await enqueue(connection, subjects.BOOK_COMPILED, event.event_id, event)
                    return SavedBook(blob_id, version, created=True)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "compiled_books_request_id_key":
                    existing = await self.by_request(request_id)
                    if existing is not None:
                        return existing
                continue  # another compile of this book took the version: take the next
            except (OSError, asyncpg.PostgresConnectionError) as exc:
                raise StoreUnavailable(str(exc)) from exc
        raise StoreUnavailable(f"could not find a free version for book {book_id}")

    async def record_timings(self, blob_id: str, timings: dict[str, float]) -> None:
        await self.pool.execute(
            "UPDATE compiled_books SET timings = timings || $2 WHERE blob_id = $1", blob_id, timings
        )

    # The query API -----------------------------------------------------------------------------

    async def _with_chapters(self, books: list[asyncpg.Record]) -> list[DerivedBlob]:
        if not books:
            return []
        rows = await self.pool.fetch(
            f"SELECT book_id AS compiled_id, {_CHAPTER_COLUMNS} FROM book_chapters"
            " WHERE book_id = ANY($1::uuid[]) ORDER BY chapter_num",
            [b["id"] for b in books],
        )
        by_book: dict[uuid.UUID, list[asyncpg.Record]] = {}
        for row in rows:
            by_book.setdefault(row["compiled_id"], []).append(row)
        return [_derived(b, by_book.get(b["id"], [])) for b in books]

    async def get(self, user_id: str, blob_id: str) -> DerivedBlob | None:
        books = await self.pool.fetch(
            f"SELECT {_BOOK_COLUMNS} FROM compiled_books WHERE blob_id = $1 AND user_id = $2", blob_id, user_id
        )
        found = await self._with_chapters(list(books))
        return found[0] if found else None

    async def batch(self, user_id: str, ids: list[str]) -> list[DerivedBlob]:
        books = await self.pool.fetch(
            f"SELECT {_BOOK_COLUMNS} FROM compiled_books WHERE blob_id = ANY($1::text[]) AND user_id = $2", ids, user_id
        )
        return await self._with_chapters(list(books))

    async def since(self, user_id: str, since: datetime | None, limit: int) -> list[DerivedBlob]:
        books = await self.pool.fetch(
            f"SELECT {_BOOK_COLUMNS} FROM compiled_books"
            " WHERE user_id = $1 AND ($2::timestamptz IS NULL OR created_at > $2)"
            " ORDER BY created_at, blob_id LIMIT $3",
            user_id,
            since,
            limit,
        )
        return await self._with_chapters(list(books))

    async def for_parent(self, user_id: str, parent_id: str) -> list[DerivedBlob]:
        return []  # a compiled book is made from a whole book, not from one blob

    async def delete(self, user_id: str, ids: list[str]) -> int:
        result = await self.pool.execute(
            "DELETE FROM compiled_books WHERE blob_id = ANY($1::text[]) AND user_id = $2", ids, user_id
        )
        return int(result.split()[-1])

    async def versions(self, user_id: str, book_id: str) -> list[dict[str, Any]]:
        """Every compiled version, oldest first, with which chapters used the expansion and which the draft."""
        rows = await self.pool.fetch(
            "SELECT b.version, b.blob_id, b.word_count, b.chapter_count, b.created_at,"
            " COALESCE(array_agg(c.chapter_num ORDER BY c.chapter_num)"
            " FILTER (WHERE c.source = 'expanded'), '{}') AS expanded,"
            " COALESCE(array_agg(c.chapter_num ORDER BY c.chapter_num)"
            " FILTER (WHERE c.source = 'draft'), '{}') AS draft"
            " FROM compiled_books b LEFT JOIN book_chapters c ON c.book_id = b.id"
            " WHERE b.user_id = $1 AND b.book_id = $2 GROUP BY b.id ORDER BY b.version",
            user_id,
            book_id,
        )
        return [dict(r) for r in rows]

    async def texts(self, user_id: str, book_id: str, version: int) -> dict[int, tuple[str, str]] | None:
        """A version's chapters: number -> (title, text); None if there is no such version."""
        book = await self.compiled(user_id, book_id, version)
        if book is None:
            return None
        rows = await self.pool.fetch(
            "SELECT chapter_num, title, compiled_text FROM book_chapters WHERE book_id = $1", book["id"]
        )
        return {r["chapter_num"]: (r["title"], r["compiled_text"]) for r in rows}

    async def compiled(self, user_id: str, book_id: str, version: int | None) -> asyncpg.Record | None:
        """A compiled version's id, number and title (the newest when `version` is None)."""
        return await self.pool.fetchrow(
            "SELECT id, version, title, metadata, created_at FROM compiled_books WHERE user_id = $1 AND book_id = $2"
            " AND ($3::int IS NULL OR version = $3) ORDER BY version DESC LIMIT 1",
            user_id,
            book_id,
            version,
        )

    async def manuscript(self, user_id: str, book_id: str, book: asyncpg.Record) -> Manuscript:
        """Everything an export is made from, for the compiled version `book` (from `compiled`)."""
        _, _, chapters = await self._chapters(book)
        fields: dict[str, str] = {k: v for k, v in book["metadata"].items() if k in METADATA and isinstance(v, str)}
        return Manuscript(
            book_id=book_id,
            compiled_id=str(book["id"]),
            version=book["version"],
            title=book["title"],
            created_at=book["created_at"],
            chapters=chapters,
            **fields,
        )

    async def cached_export(
        self, compiled_id: uuid.UUID, fmt: str, *, with_content: bool
    ) -> tuple[str, bytes | None] | None:
        """A rendered export's ETag (and bytes, when asked), if it was made before."""
        row = await self.pool.fetchrow(
            f"SELECT etag{', content' if with_content else ''} FROM book_exports"
            " WHERE compiled_id = $1 AND format = $2",
            compiled_id,
            fmt,
        )
        if row is None:
            return None
        return row["etag"], (bytes(row["content"]) if with_content else None)

    async def save_export(self, compiled_id: uuid.UUID, fmt: str, etag: str, content: bytes, render_ms: float) -> None:
        await self.pool.execute(
            "INSERT INTO book_exports (compiled_id, format, etag, content, render_ms) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (compiled_id, format) DO NOTHING",
            compiled_id,
            fmt,
            etag,
            content,
            render_ms,
        )

    async def _chapters(self, book: asyncpg.Record) -> tuple[str, int, list[CompiledChapterText]]:
        rows = await self.pool.fetch(
            f"SELECT {_CHAPTER_COLUMNS} FROM book_chapters WHERE book_id = $1 ORDER BY chapter_num", book["id"]
        )
        chapters = [
            CompiledChapterText(
                chapter=r["chapter_num"],
                title=r["title"],
                text=r["compiled_text"],
                source=r["source"],
                draft_blob_id=r["draft_blob_id"],
                draft_version=r["draft_version"] or 0,
                expanded_blob_id=r["expanded_blob_id"],
                fallback_reason=r["fallback_reason"],
            )
            for r in rows
        ]
        return book["title"], book["version"], chapters
