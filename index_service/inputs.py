"""Inputs a processor reads besides a blob's parent (story-bible entries): which apply to a book,
and which of the inputs a derived blob was made with have moved on since."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from contracts.models import DerivedRef, InputChanged, UserBlob

from .documents import to_user_blob


def by_name(entry: dict[str, Any]) -> tuple[str, str]:
    return (str(entry.get("title") or "").casefold(), str(entry["_id"]))


async def inputs_for(
    blobs: AsyncCollection[dict[str, Any]], user_id: str, schema_id: str, book_id: str | None
) -> list[UserBlob]:
    """The user's live blobs of `schema_id` that apply to `book_id`: filed under it, or under no
    book (every book of the user); the book's own first, each group by name."""
    # Two equality reads on the (user_id, book_id) index: the embedded server plans an `$in` with
    # null as a scan of everything the user owns.
    found: list[dict[str, Any]] = []
    for book in dict.fromkeys([book_id, None]):
        found += await blobs.find({"user_id": user_id, "book_id": book, "schema_id": schema_id}, {"outbox": 0}).to_list(
            None
        )
    live = [d for d in found if not d.get("deleted")]
    own = sorted((d for d in live if d.get("book_id") is not None), key=by_name)
    shared = sorted((d for d in live if d.get("book_id") is None), key=by_name)
    return [to_user_blob(d) for d in (*own, *shared)]


async def mark_changed(
    blobs: AsyncCollection[dict[str, Any]],
    user_id: str,
    entries: list[dict[str, Any]],
    refs: Iterable[DerivedRef],
) -> None:
    """Set `inputs_changed` on each ref made with an input that has a newer version, or none, now."""
    # What an output used, and (version 0) a new input it will use when it is made again.
    used = {
        e["_id"]: [*(e.get("inputs") or []), *({**a, "version": 0} for a in e.get("awaiting") or [])]
        for e in entries
        if e.get("inputs") or e.get("awaiting")
    }
    wanted = [r for r in refs if r.id in used]
    if not wanted:
        return
    ids = {i["blob_id"] for r in wanted for i in used[r.id]}
    known = {e["_id"]: e for e in entries if e["_id"] in ids}
    missing = ids - set(known)
    if missing:
        # Inputs that live outside the book (a series-wide entry): one read for all of them.
        cursor = blobs.find(
            {"_id": {"$in": sorted(missing)}, "user_id": user_id}, {"version": 1, "title": 1, "deleted": 1}
        )
        for found in await cursor.to_list(None):
            known[found["_id"]] = found
    for ref in wanted:
        changed: list[InputChanged] = []
        for used_input in used[ref.id]:
            now = known.get(used_input["blob_id"]) or {"deleted": True}
            live = not now.get("deleted")
            if (live and now["version"] == used_input["version"]) or (not live and used_input["version"] == 0):
                continue
            changed.append(
                InputChanged(
                    blob_id=used_input["blob_id"],
                    name=str(now.get("title") or ""),
                    used_version=used_input["version"],
                    version=now["version"] if live else None,
                )
            )
        ref.inputs_changed = changed


async def await_input(
    blobs: AsyncCollection[dict[str, Any]], user_id: str, processor_id: str, blob_id: str, parent_ids: list[str]
) -> int:
    """Mark what `processor_id` made from `parent_ids` as waiting for input `blob_id`; how many."""
    result = await blobs.update_many(
        {"user_id": user_id, "processor_id": processor_id, "parent_id": {"$in": parent_ids}, "deleted": {"$ne": True}},
        {"$addToSet": {"awaiting": {"blob_id": blob_id}}},
    )
    return int(result.modified_count)
