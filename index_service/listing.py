"""A user's blobs a page at a time, each with what was made from it down every chain."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import msgspec
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from contracts.models import USER_PROCESSOR, BlobView, DerivedSummary
from contracts.problems import FieldError

from .documents import cursor_filter, derived_summary, to_user_blob
from .errors import InvalidBlob
from .failures import FailureStore, summary

LIVE = {"deleted": {"$ne": True}}  # beside an _id; never beside an index the query also uses (see books_of)
MAX_CHAIN = 8  # levels of derived blobs a listing follows (registration refuses cycles)


def encode_cursor(created_at: datetime, blob_id: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([created_at.isoformat(), blob_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, blob_id = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(blob_id)
    except (ValueError, TypeError, msgspec.DecodeError):
        raise InvalidBlob(
            "the cursor is not one this service gave out",
            errors=[FieldError(pointer="/cursor", detail="unreadable cursor")],
        ) from None


async def list_user_blobs(
    blobs: AsyncCollection[dict[str, Any]],
    failures: FailureStore,
    user_id: str,
    *,
    book_id: str | None,
    type_: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[BlobView], str | None]:
    """A page of the user's own blobs, oldest first, and the cursor of the next page if there is one."""
    query: dict[str, Any] = {"user_id": user_id, "processor_id": USER_PROCESSOR, **LIVE}
    if book_id is not None:
        query["book_id"] = book_id
    if type_ is not None:
        query["type"] = type_
    query.update(cursor_filter(decode_cursor(cursor) if cursor else None))
    docs = await blobs.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)]).to_list(limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    derived = await descendants(blobs, user_id, docs)
    failed: dict[str, list[Any]] = {}
    for failure in await failures.open_of(user_id):
        if failure.get("blob_id"):
            failed.setdefault(failure["blob_id"], []).append(summary(failure))
    views = [
        to_user_blob(d, BlobView, derived=derived.get(d["_id"], []), failures=failed.get(d["_id"], [])) for d in docs
    ]
    next_cursor = encode_cursor(docs[-1]["created_at"], docs[-1]["_id"]) if more and docs else None
    return views, next_cursor  # type: ignore[return-value]


async def descendants(
    blobs: AsyncCollection[dict[str, Any]], user_id: str, docs: list[dict[str, Any]]
) -> dict[str, list[DerivedSummary]]:
    """What was made from each blob, down every chain: one query per level of the chains."""
    found: dict[str, list[DerivedSummary]] = {d["_id"]: [] for d in docs}
    # blob id -> (the listed blob it descends from, its version, whether it is stale)
    frontier = {d["_id"]: (d["_id"], d["version"], False) for d in docs}
    for depth in range(1, MAX_CHAIN + 1):
        if not frontier:
            break
        children = await blobs.find({"parent_id": {"$in": list(frontier)}, "user_id": user_id}).to_list(None)
        following = {}
        for child in children:
            if child.get("deleted"):
                continue  # filtered here, not in the query: see BookStore.books_of
            root, parent_version, parent_stale = frontier[child["parent_id"]]
            made = derived_summary(child, parent_version)
            if parent_stale:
                made.status = "stale"
            if depth > 1:
                made.parent_id, made.depth = child["parent_id"], depth
            found[root].append(made)
            following[child["_id"]] = (root, child.get("version") or 1, made.status == "stale")
        frontier = following
    return found
