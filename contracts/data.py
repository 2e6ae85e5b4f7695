"""Typed views of the blob payloads whose JSON Schemas live in contracts/schemas.

tests/unit/test_contracts.py fails when a schema and its Struct drift apart.
"""

from __future__ import annotations

import msgspec


class TextMetadata(msgspec.Struct, kw_only=True, omit_defaults=True):
    book_id: str | None = None
    chapter: int | None = None
    style: str | None = None  # formal | casual | creative
    title: str | None = None  # not in the schema; carried as an additional property


class TextInput(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`text-input-v1`: a chapter draft or any text a writer types."""

    content: str
    metadata: TextMetadata | None = None


class TextMetrics(msgspec.Struct, kw_only=True, omit_defaults=True):
    readability_score: float | None = None
    complexity: float | None = None
    tone: str | None = None


class ExpandedText(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`expanded-text-v1`: a draft expanded into fuller prose."""

    original: str
    expanded: str
    expansion_ratio: float
    metrics: TextMetrics | None = None


# schema id -> the Struct that reads it; the drift test walks this table.
PAYLOADS: dict[str, type[msgspec.Struct]] = {
    "text-input-v1": TextInput,
    "expanded-text-v1": ExpandedText,
}

# Properties a Struct carries beyond its schema (allowed there as additional properties).
EXTRA_FIELDS: dict[type[msgspec.Struct], frozenset[str]] = {TextMetadata: frozenset({"title"})}
