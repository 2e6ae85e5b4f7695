"""Books and the user's state, assembled from the index so they can never disagree with it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import subjects
from contracts.events import BookUpdated, CompileBook
from contracts.models import (
    CODEX_SCHEMA,
    COMPILED_BOOK_SCHEMA,
    USER_PROCESSOR,
    BookMetadata,
    BookState,
    ChapterState,
    CompileAccepted,
    CompileRequest,
    CreateUserBook,
    DerivedRef,
    FailureSummary,
    ProcessorRegistration,
    UpdateBook,
    UserBlob,
    UserState,
    WorkItem,
)
from contracts.problems import FieldError

from .documents import to_user_blob
from .errors import BookEmpty, BookExists, BookNotFound
from .failures import FailureStore, summary
from .ids import new_id, now
from .inputs import by_name, inputs_for, mark_changed
from .listing import LIVE
from .outbox import PENDING_FLAG, OutboxRelay, outbox_entry
from .processing import statuses

COMPILED_SCHEMA = COMPILED_BOOK_SCHEMA


def slug(title: str) -> str:
    """A book id from its title: `The Long Way` -> `the-long-way-3f2a`."""
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "book"
    return f"{base}-{new_id()[:6]}"


def chains(
    entries: list[dict[str, Any]], draft_ids: set[str]
) -> tuple[dict[str, dict[str, DerivedRef]], dict[str, dict[str, DerivedRef]]]:
    """Sort a book's derived entries: for each draft, the newest blob each processor made down its
    chain (by draft id, then processor); for each book, the newest output each processor made of
    the book as a whole (entries with no parent)."""
    by_id = {e["_id"]: e for e in entries}
    derived: dict[str, dict[str, tuple[tuple[Any, ...], DerivedRef]]] = {}
    outputs: dict[str, dict[str, tuple[tuple[Any, ...], DerivedRef]]] = {}
    for entry in entries:
        if entry["processor_id"] == USER_PROCESSOR:
            continue
        rank = (entry.get("source_version") or 0, entry.get("version") or 0, entry["created_at"])
        parent = entry.get("parent_id")
        if parent is None:
            slot = outputs.setdefault(entry["book_id"], {})
            ref = DerivedRef(
                id=entry["_id"], schema_id=entry["schema_id"], source_version=entry.get("source_version"), depth=0
            )
        else:
            root, depth, seen = parent, 1, {entry["_id"]}
            while root not in draft_ids and root in by_id and root not in seen:  # up the chain to its draft
                seen.add(root)
                root, depth = by_id[root].get("parent_id"), depth + 1
            if root not in draft_ids:
                continue  # hangs from something that is not a live draft of this book
            slot = derived.setdefault(root, {})
            ref = DerivedRef(
                id=entry["_id"],
                schema_id=entry["schema_id"],
                parent_id=parent,
                source_version=entry.get("source_version"),
                depth=depth,
            )
        held = slot.get(entry["processor_id"])
        if held is None or held[0] < rank:
            slot[entry["processor_id"]] = (rank, ref)
    return (
        {d: {p: r for p, (_, r) in refs.items()} for d, refs in derived.items()},
        {b: {p: r for p, (_, r) in refs.items()} for b, refs in outputs.items()},
    )


# What a book's listing reads of each entry (without drafts).
ENTRY_FIELDS = (
    "_id",
    "book_id",
    "chapter",
    "title",
    "processor_id",
    "parent_id",
    "schema_id",
    "source_version",
    "version",
    "created_at",
    "deleted",
    "inputs",
    "awaiting",
    "words",
    "ai_words",
)


def newest_compiled(entries: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
    """Each book's newest compiled version: book id -> (version, blob id)."""
    compiled: dict[str, tuple[int, str]] = {}
    for entry in entries:
        if entry.get("schema_id") == COMPILED_SCHEMA:
            if entry["book_id"] not in compiled or compiled[entry["book_id"]][0] < entry["version"]:
                compiled[entry["book_id"]] = (entry["version"], entry["_id"])
    return compiled


class BookStore:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        compile_relay: OutboxRelay,
        failures: FailureStore,
        book_relay: OutboxRelay,
    ) -> None:
        self.failures = failures
        self.books = db["books"]
        self.blobs = db["blobs"]
        self.compile_requests = db["compile_requests"]
        self.compile_relay = compile_relay
        self.book_relay = book_relay

    @staticmethod
    async def create_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
        await db["books"].create_index([("user_id", ASCENDING), ("book_id", ASCENDING)], unique=True)
        await db["compile_requests"].create_index([("user_id", ASCENDING), ("book_id", ASCENDING)])
        await db["compile_requests"].create_index([(PENDING_FLAG, ASCENDING)], sparse=True)

    async def request_compile(self, user_id: str, book_id: str, request: CompileRequest) -> CompileAccepted:
        """Record a compile request and its command in one write; the relay publishes it."""
        (book,) = await self.books_of(user_id, book_id=book_id)  # unknown (or another user's) book: 404
        if not book.chapters:
            raise BookEmpty(
                f"book {book_id} has no chapters to compile",
                errors=[FieldError(pointer="/book_id", detail="no chapters")],
            )
        moment = now()
        command = CompileBook(
            event_id=new_id(),
            user_id=user_id,
            book_id=book_id,
            occurred_at=moment,
            prefer=request.prefer,
            ai=request.ai,
        )
        entry = outbox_entry(subjects.BOOK_COMPILE_REQUESTED, command)
        await self.compile_requests.insert_one(
            {
                "_id": command.event_id,
                "user_id": user_id,
                "book_id": book_id,
                "prefer": request.prefer,
                "ai": request.ai,
                "chapters": len(book.chapters),
                "created_at": moment,
                "outbox": [entry],
                PENDING_FLAG: True,
            }
        )
        self.compile_relay.notify(command.event_id, [entry])
        return CompileAccepted(request_id=command.event_id, book_id=book_id)

    async def create(self, request: CreateUserBook) -> BookState:
        book_id = request.id or slug(request.title)
        moment = now()
        # The book and its `book.updated` event in one write: every view and socket of the user hears of it.
        event = BookUpdated(
            event_id=new_id(), user_id=request.user_id, book_id=book_id, occurred_at=moment, fields=["created", "title"]
        )
        entry = outbox_entry(subjects.BOOK_UPDATED, event)
        key = f"{request.user_id}/{book_id}"
        doc = {
            "_id": key,
            "user_id": request.user_id,
            "book_id": book_id,
            "title": request.title,
            "description": request.description,
            "created_at": moment,
            "outbox": [entry],
            PENDING_FLAG: True,
        }
        try:
            await self.books.insert_one(doc)
        except DuplicateKeyError:
            # A draft may have filed the book first under its bare id: adopt it and set the title.
            adopted = await self.books.find_one_and_update(
                {"user_id": request.user_id, "book_id": book_id, "title": book_id, "named": {"$ne": True}},
                {
                    "$set": {
                        "title": request.title,
                        "description": request.description,
                        "named": True,
                        PENDING_FLAG: True,
                    },
                    "$push": {"outbox": entry},
                },
            )
            if adopted is None:
                raise BookExists(f"book {book_id} exists") from None
        else:
            await self.books.update_one({"_id": key}, {"$set": {"named": True}})
        self.book_relay.notify(key)
        return (await self.books_of(request.user_id, book_id=book_id))[0]

    async def update(self, user_id: str, book_id: str, change: UpdateBook) -> BookState:
        """Change a book's title, description or metadata; a field set to None is removed."""
        changes = change.changes()
        update: dict[str, Any] = {}
        if assigned := {k: v for k, v in changes.items() if v is not None}:
            update["$set"] = {**assigned, **({"named": True} if "title" in assigned else {})}
        if cleared := {k: "" for k, v in changes.items() if v is None}:
            update["$unset"] = cleared
        key = f"{user_id}/{book_id}"
        if await self.books.find_one({"_id": key}, {"_id": 1}) is None:
            # A book only its drafts name has no document yet: it gets one (or it does not exist: 404).
            await self.books_of(user_id, book_id=book_id)
            try:
                await self.books.insert_one(
                    {"_id": key, "user_id": user_id, "book_id": book_id, "title": book_id, "created_at": now()}
                )
            except DuplicateKeyError:
                pass  # a draft filed it meanwhile
        if update:
            # The change and its event in one write: every gateway's views of the book go stale.
            event = BookUpdated(
                event_id=new_id(), user_id=user_id, book_id=book_id, occurred_at=now(), fields=sorted(changes)
            )
            entry = outbox_entry(subjects.BOOK_UPDATED, event)
            update.setdefault("$set", {})[PENDING_FLAG] = True
            update["$push"] = {"outbox": entry}
            await self.books.update_one({"_id": key}, update)
            self.book_relay.notify(key)
        return (await self.books_of(user_id, book_id=book_id))[0]

    async def _work(
        self, user_id: str, registrations: list[ProcessorRegistration]
    ) -> tuple[list[WorkItem], list[WorkItem]]:
        """Every (user blob, consuming processor) not done with the blob's current version."""
        entries = await self.blobs.find(
            {"user_id": user_id, **LIVE},
            {
                "_id": 1,
                "processor_id": 1,
                "parent_id": 1,
                "schema_id": 1,
                "version": 1,
                "source_version": 1,
                "book_id": 1,
                "chapter": 1,
            },
        ).to_list(None)
        own = [e for e in entries if e["processor_id"] == USER_PROCESSOR]
        children: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            if entry.get("parent_id") and entry["processor_id"] != USER_PROCESSOR:
                children.setdefault(entry["parent_id"], []).append(entry)
        failures: dict[str, list[dict[str, Any]]] = {}
        for failure in await self.failures.open_of(user_id):
            if failure.get("blob_id"):
                failures.setdefault(failure["blob_id"], []).append(failure)
        in_flight: list[WorkItem] = []
        failed: list[WorkItem] = []
        for blob in own:
            made = {
                c["processor_id"]: c["_id"]
                for c in children.get(blob["_id"], [])
                if c.get("source_version") == blob["version"]
            }
            gave_up = {
                f["processor_id"]: f["reason"]
                for f in failures.get(blob["_id"], [])
                if f.get("source_version") in (None, blob["version"])
            }
            for processor, status in statuses(blob["schema_id"], made, gave_up, registrations).items():
                if status.state == "done":
                    continue
                item = WorkItem(
                    blob_id=blob["_id"],
                    schema_id=blob["schema_id"],
                    version=blob["version"],
                    processor=processor,
                    state=status.state,
                    reason=status.reason,
                    book_id=blob.get("book_id"),
                    chapter=blob.get("chapter"),
                )
                (failed if status.state == "failed" else in_flight).append(item)
        return in_flight, failed

    async def books_of(self, user_id: str, *, book_id: str | None = None, with_drafts: bool = False) -> list[BookState]:
        """The user's books with their chapters in order; a draft's book appears even if unnamed.

        `with_drafts` adds each chapter's draft, whole, read in the same query as the rest.
        """
        book_filter: dict[str, Any] = {"user_id": user_id, **({"book_id": book_id} if book_id is not None else {})}
        books = await self.books.find(book_filter).sort([("created_at", ASCENDING), ("_id", ASCENDING)]).to_list(None)
        entries = await self._book_entries(user_id, book_id, with_drafts=with_drafts)
        drafts = [e for e in entries if e["processor_id"] == USER_PROCESSOR and e.get("chapter") is not None]
        draft_ids = {d["_id"] for d in drafts}
        derived, outputs = chains(entries, draft_ids)
        await mark_changed(
            self.blobs,
            user_id,
            entries,
            [r for refs in (*derived.values(), *outputs.values()) for r in refs.values()],
        )
        chapter_failures, compile_failures = await self._open_failures(user_id, draft_ids, derived)
        chapters: dict[str, list[ChapterState]] = {}
        for draft in drafts:
            chapters.setdefault(draft["book_id"], []).append(
                ChapterState(
                    chapter=draft["chapter"],
                    title=draft.get("title") or f"Chapter {draft['chapter']}",
                    draft_blob_id=draft["_id"],
                    processed_blob_ids={p: r.id for p, r in derived.get(draft["_id"], {}).items() if r.depth == 1},
                    derived=derived.get(draft["_id"], {}),
                    failures=chapter_failures.get(draft["_id"], []),
                    words=draft.get("words") or 0,
                    ai_words=draft.get("ai_words") or 0,
                )
            )
        for listed in chapters.values():
            listed.sort(key=lambda c: c.chapter)

        def drafts_of(book: str) -> list[UserBlob] | None:
            return [to_user_blob(d) for d in drafts if d["book_id"] == book] if with_drafts else None

        # The entries for every book: what `inputs_for` gives a blob filed under no book.
        series = await inputs_for(self.blobs, user_id, CODEX_SCHEMA, None) if with_drafts else []

        def codex_of(book: str) -> list[UserBlob] | None:
            """The book's own story-bible entries, then the ones for every book, each by name."""
            if not with_drafts:
                return None
            own = [e for e in entries if e.get("schema_id") == CODEX_SCHEMA and e["book_id"] == book]
            return [to_user_blob(e) for e in sorted(own, key=by_name)] + series

        compiled = newest_compiled(entries)
        result = [
            BookState(
                book_id=b["book_id"],
                title=b["title"],
                description=b.get("description"),
                created_at=b.get("created_at"),
                chapters=chapters.get(b["book_id"], []),
                compiled_version=compiled[b["book_id"]][0] if b["book_id"] in compiled else None,
                compiled_blob_id=compiled[b["book_id"]][1] if b["book_id"] in compiled else None,
                compile_failure=compile_failures.get(b["book_id"]),
                chapter_count=len(chapters.get(b["book_id"], [])),
                words=sum(c.words for c in chapters.get(b["book_id"], [])),
                ai_words=sum(c.ai_words for c in chapters.get(b["book_id"], [])),
                **{field: b.get(field) for field in BookMetadata.__struct_fields__},
                outputs=outputs.get(b["book_id"], {}),
                drafts=drafts_of(b["book_id"]),
                codex=codex_of(b["book_id"]),
            )
            for b in books
        ]
        # A crash between a draft's write and its book's upsert must not hide the draft's book.
        for orphan in sorted(set(chapters) - {b["book_id"] for b in books}):
            result.append(
                BookState(
                    book_id=orphan,
                    title=orphan,
                    chapters=chapters[orphan],
                    chapter_count=len(chapters[orphan]),
                    drafts=drafts_of(orphan),
                    codex=codex_of(orphan),
                )
            )
        if book_id is not None and not result:
            raise BookNotFound(f"book {book_id} does not exist")
        return result

    async def inputs(self, user_id: str, schema_id: str, book_id: str | None) -> list[UserBlob]:
        """The user's blobs of `schema_id` a processor reads for a blob of `book_id` (see `inputs_for`)."""
        return await inputs_for(self.blobs, user_id, schema_id, book_id)

    async def _book_entries(self, user_id: str, book_id: str | None, *, with_drafts: bool) -> list[dict[str, Any]]:
        """One read of every live entry that belongs to a book (drafts, what was derived from them,
        compiled versions: all carry their book id), sorted out by the caller."""
        # Tombstones are dropped here, not in the query: the embedded server plans a `$ne` beside
        # the (user_id, book_id) index as a scan of everything the user owns (3 ms -> 420 ms).
        entry_filter: dict[str, Any] = {"user_id": user_id, "book_id": {"$ne": None} if book_id is None else book_id}
        projection = {"outbox": 0} if with_drafts else dict.fromkeys(ENTRY_FIELDS, 1)
        return [e for e in await self.blobs.find(entry_filter, projection).to_list(None) if not e.get("deleted")]

    async def _open_failures(
        self, user_id: str, draft_ids: set[str], derived: dict[str, dict[str, DerivedRef]]
    ) -> tuple[dict[str, list[FailureSummary]], dict[str, FailureSummary]]:
        """The user's open failures: by the draft whose chain failed, and by the book a compile failed."""
        chapter_failures: dict[str, list[FailureSummary]] = {}
        compile_failures: dict[str, FailureSummary] = {}
        chain_root = {ref.id: draft_id for draft_id, refs in derived.items() for ref in refs.values()}
        for failure in await self.failures.open_of(user_id):
            failed_on = str(failure.get("blob_id") or "")
            root = failed_on if failed_on in draft_ids else chain_root.get(failed_on)
            if root is not None:
                chapter_failures.setdefault(root, []).append(summary(failure))
            elif failure.get("blob_id") is None and failure.get("book_id"):
                compile_failures[failure["book_id"]] = summary(failure)  # oldest first: the newest stays
        return chapter_failures, compile_failures

    async def state(self, user_id: str, registrations: list[ProcessorRegistration]) -> UserState:
        counts = await (
            await self.blobs.aggregate(
                [{"$match": {"user_id": user_id, **LIVE}}, {"$group": {"_id": "$processor_id", "n": {"$sum": 1}}}]
            )
        ).to_list(None)
        latest = (
            await self.blobs.find({"user_id": user_id, **LIVE}, {"updated_at": 1}).sort([("updated_at", -1)]).to_list(1)
        )
        conversations = await self.blobs.distinct("conversation_id", {"user_id": user_id, **LIVE})
        by_processor = {c["_id"]: c["n"] for c in counts}
        updated_at: datetime | None = latest[0]["updated_at"] if latest else None
        in_flight, failed = await self._work(user_id, registrations)
        return UserState(
            in_flight=in_flight,
            failed=failed,
            user_id=user_id,
            total_blobs=sum(by_processor.values()),
            blobs_by_processor=by_processor,
            books=await self.books_of(user_id),
            conversations=sorted(c for c in conversations if c),
            updated_at=updated_at,
        )
