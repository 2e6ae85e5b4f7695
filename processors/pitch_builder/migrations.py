"""The pitch builder's schema: a pitch per version of its input, and its sections.

Every statement runs once (`processors.pg.migrate` remembers which); append, never edit.
"""

MIGRATIONS = (
    """
    CREATE TABLE pitches (
        id                 UUID PRIMARY KEY,
        blob_id            TEXT NOT NULL UNIQUE,
        user_id            VARCHAR(255) NOT NULL,
        parent_blob_id     VARCHAR(255) NOT NULL,
        source_version     INTEGER NOT NULL,
        version            INTEGER NOT NULL,
        title              TEXT NOT NULL,
        logline            TEXT NOT NULL,
        one_pager          TEXT NOT NULL,
        word_count         INTEGER NOT NULL,
        model_used         TEXT NOT NULL,
        tokens_used        INTEGER NOT NULL DEFAULT 0,
        processing_time_ms INTEGER NOT NULL DEFAULT 0,
        book_id            VARCHAR(255),
        created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (user_id, parent_blob_id, version)
    );
    CREATE INDEX pitches_by_user ON pitches (user_id, created_at);
    CREATE TABLE pitch_sections (
        id        UUID PRIMARY KEY,
        pitch_id  UUID NOT NULL REFERENCES pitches (id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        key       TEXT NOT NULL,
        heading   TEXT NOT NULL,
        body      TEXT NOT NULL,
        UNIQUE (pitch_id, position)
    );
    """,
    """
    ALTER TABLE pitches ADD COLUMN details JSONB NOT NULL DEFAULT '{}';
    CREATE TABLE book_compiles (
        user_id     VARCHAR(255) NOT NULL,
        book_id     VARCHAR(255) NOT NULL,
        version     INTEGER NOT NULL,
        word_count  INTEGER NOT NULL,
        PRIMARY KEY (user_id, book_id)
    );
    """,
)
