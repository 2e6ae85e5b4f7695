"""The summary processor's schema: one summary per expanded text.

Every statement runs once (`processors.pg.migrate` remembers which); append, never edit.
"""

MIGRATIONS = (
    """
    CREATE TABLE summaries (
        blob_id              TEXT PRIMARY KEY,
        user_id              VARCHAR(255) NOT NULL,
        parent_blob_id       VARCHAR(255) NOT NULL,
        source_version       INTEGER NOT NULL,
        book_id              VARCHAR(255),
        title                TEXT NOT NULL,
        summary              TEXT NOT NULL,
        key_sentences        JSONB NOT NULL,
        word_count           INTEGER NOT NULL,
        reading_time_minutes DOUBLE PRECISION NOT NULL,
        words_per_minute     INTEGER NOT NULL,
        model_used           TEXT NOT NULL,
        tokens_used          INTEGER NOT NULL DEFAULT 0,
        processing_time_ms   INTEGER NOT NULL DEFAULT 0,
        created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE INDEX summaries_by_user ON summaries (user_id, created_at, blob_id);
    CREATE INDEX summaries_by_parent ON summaries (user_id, parent_blob_id);
    """,
)
