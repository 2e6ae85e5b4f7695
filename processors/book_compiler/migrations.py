"""The book compiler's schema: the seeds' tables, with what a versioned, per-user book needs.

Book ids are chosen per user, so versions are unique per (user, book). Every statement runs once
(`processors.pg.migrate` remembers which); append new ones, never edit old ones.
"""

from processors.pg import OUTBOX_MIGRATION

MIGRATIONS = (
    """
    CREATE TABLE compiled_books (
        id              UUID PRIMARY KEY,
        blob_id         TEXT NOT NULL UNIQUE,
        request_id      TEXT NOT NULL UNIQUE,
        user_id         VARCHAR(255) NOT NULL,
        book_id         VARCHAR(255) NOT NULL,
        version         INTEGER NOT NULL,
        title           TEXT NOT NULL,
        full_text       TEXT NOT NULL,
        word_count      INTEGER NOT NULL,
        chapter_count   INTEGER NOT NULL,
        source_blob_ids JSONB NOT NULL,
        compile_config  JSONB NOT NULL,
        timings         JSONB NOT NULL DEFAULT '{}',
        created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (user_id, book_id, version)
    );
    CREATE INDEX compiled_books_by_user ON compiled_books (user_id, created_at);
    CREATE TABLE book_chapters (
        id               UUID PRIMARY KEY,
        book_id          UUID NOT NULL REFERENCES compiled_books (id) ON DELETE CASCADE,
        chapter_num      INTEGER NOT NULL,
        title            VARCHAR(500) NOT NULL,
        draft_blob_id    VARCHAR(255) NOT NULL,
        expanded_blob_id VARCHAR(255),
        draft_version    INTEGER,
        source           TEXT NOT NULL CHECK (source IN ('expanded', 'draft')),
        fallback_reason  TEXT,
        compiled_text    TEXT NOT NULL,
        word_count       INTEGER NOT NULL,
        UNIQUE (book_id, chapter_num)
    );
    """,
    OUTBOX_MIGRATION,
    """
    ALTER TABLE compiled_books ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}';
    CREATE TABLE book_exports (
        compiled_id  UUID NOT NULL REFERENCES compiled_books (id) ON DELETE CASCADE,
        format       TEXT NOT NULL,
        etag         TEXT NOT NULL,
        content      BYTEA NOT NULL,
        render_ms    REAL NOT NULL,
        created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (compiled_id, format)
    );
    """,
)
