"""What tests send: a draft's body, a user's token for a stack."""

from __future__ import annotations

from servicekit.auth import issue_token

from .harness import Stack


def token_for(stack: Stack, user: str) -> str:
    return issue_token(stack.secrets["jwt_secret"], user)


def draft(
    book_id: str | None = None, chapter: int | None = None, content: str | None = None, **metadata: object
) -> dict:
    """A text-input-v1 blob body."""
    meta: dict[str, object] = dict(metadata)
    if book_id is not None:
        meta["book_id"] = book_id
    if chapter is not None:
        meta["chapter"] = chapter
    data: dict[str, object] = {"content": content or f"A chapter draft of some length, number {chapter}."}
    if meta:
        data["metadata"] = meta
    return {"schema_id": "text-input-v1", "data": data}
