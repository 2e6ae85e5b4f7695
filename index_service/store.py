"""User blobs and BlobIndex entries in MongoDB; every announcing write carries its event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from cachetools import LRUCache
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from contracts import subjects
from contracts.events import BlobDeleted, BlobUpdated
from contracts.ids import is_id
from contracts.models import (
    CODEX_SCHEMA,
    USER_PROCESSOR,
    AwaitInput,
    BlobIndexEntry,
    BlobView,
    CreateUserBlob,
    RegisterDerivedBlob,
    UpdateUserBlob,
    UserBlob,
)
from contracts.problems import FieldError

from .documents import (
    PREVIEW_CHARS,
    BlobDocument,
    chapter_key,
    derived_summary,
    schema_name,
    text_of,
    title_of,
    to_entry,
    to_user_blob,
)
from .errors import (
    BlobNotFound,
    ChapterTaken,
    DerivedConflict,
    InvalidBlob,
    StoreUnavailable,
    VersionMismatch,
)
from .failures import FailureStore, summary
from .group_commit import GroupInsert
from .ids import new_id, now
from .inputs import await_input
from .listing import LIVE, list_user_blobs
from .outbox import CASCADE_FLAG, PENDING_FLAG, OutboxRelay, outbox_entry, push_events
from .provenance import TEXT_SCHEMA, with_provenance, word_counts
from .refresh import changed, inputs_of, refresh
from .registry import SchemaRegistry

log = logging.getLogger(__name__)
MAX_UPDATE_ATTEMPTS = 8
SCHEMAS_KNOWN = 100_000  # user blobs whose schema this process remembers
KNOWN_BOOKS_MAX = 100_000
MAX_CHAPTER = 10_000  # a book of more chapters is not a book; bigger numbers are mistakes or attacks


def book_placement(user_id: str, data: dict[str, Any], schema_id: str = "") -> tuple[str | None, int | None]:
    """A draft's book and chapter from `data.metadata`, checked beyond what its schema says; a
    story-bible entry's book from its `book_id` (its schema checks it), with no chapter."""
    if schema_id == CODEX_SCHEMA:
        book = data.get("book_id")
        return (book if isinstance(book, str) else None), None
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return None, None
    book_id, chapter = metadata.get("book_id"), metadata.get("chapter")
    problems = []
    if book_id is not None and not is_id(book_id):
        problems.append(
            FieldError(pointer="/data/metadata/book_id", detail="a book id is 1-128 letters, digits, '_' or '-'")
        )
    if chapter is not None and (not isinstance(chapter, int) or not 1 <= chapter <= MAX_CHAPTER):
        problems.append(
            FieldError(pointer="/data/metadata/chapter", detail=f"chapters are numbered from 1 to {MAX_CHAPTER}")
        )
    if chapter is not None and book_id is None:
        problems.append(FieldError(pointer="/data/metadata/book_id", detail="a chapter needs the book it belongs to"))
    if problems:
        raise InvalidBlob("the draft's book placement is invalid", errors=problems)
    return book_id, chapter


class BlobStore:
    """Reads and writes of the `blobs` collection; every method is filtered by user id."""

    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], schemas: SchemaRegistry, relay: OutboxRelay, failures: FailureStore
    ) -> None:
        self.blobs: AsyncCollection[dict[str, Any]] = db["blobs"]
        self.inserts = GroupInsert(self.blobs)
        self.failures = failures
        self.books: AsyncCollection[dict[str, Any]] = db["books"]
        self.schemas = schemas
        self.relay = relay
        # Books this process has filed: a book is never un-filed while a draft names it, so a
        # second upsert would change nothing.
        self._known_books: set[tuple[str, str]] = set()
        self._cascading: dict[str, asyncio.Task[None]] = {}  # deletions whose cascade runs after their answer
        self._schemas_of: LRUCache[str, tuple[str, str]] = LRUCache(
            maxsize=SCHEMAS_KNOWN
        )  # user blob -> (owner, schema)

    @staticmethod
    async def create_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
        blobs = db["blobs"]
        await blobs.create_index([("user_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])
        await blobs.create_index([("user_id", ASCENDING), ("book_id", ASCENDING)])
        await blobs.create_index([("parent_id", ASCENDING)])
        await blobs.create_index([("processor_id", ASCENDING), ("remote_blob_id", ASCENDING)], unique=True)
        await blobs.create_index([("chapter_key", ASCENDING)], unique=True, sparse=True)
        await blobs.create_index([(PENDING_FLAG, ASCENDING)], sparse=True)
        await blobs.create_index([(CASCADE_FLAG, ASCENDING)], sparse=True)
        # What was made with an input besides its parent: the edges a change of that input follows.
        await blobs.create_index([("inputs.blob_id", ASCENDING)], sparse=True)

    async def repair(self) -> int:
        """Make readable what was stored before the edge refused it: a chapter number past
        MAX_CHAPTER takes the draft out of the book's chapters (it stays the user's blob, in the
        book, and can be edited or deleted). Returns how many documents were repaired."""
        result = await self.blobs.update_many(
            {"chapter": {"$gt": MAX_CHAPTER}}, {"$set": {"chapter": None}, "$unset": {"chapter_key": ""}}
        )
        return int(result.modified_count)

    # Reads -----------------------------------------------------------------------------------

    async def _live(self, user_id: str, blob_id: str) -> dict[str, Any]:
        doc = await self.blobs.find_one({"_id": blob_id, "user_id": user_id, **LIVE})
        if doc is None:
            raise BlobNotFound(f"blob {blob_id} does not exist")
        return doc

    async def get(self, user_id: str, blob_id: str) -> BlobView:
        """A user blob with its derived summaries; another user's blob is not found."""
        doc = await self._live(user_id, blob_id)
        if doc.get("processor_id") != USER_PROCESSOR:
            raise BlobNotFound(f"blob {blob_id} is held by processor {doc['processor_id']}; ask the index entry")
        return await self._view(doc)

    async def _view(self, doc: dict[str, Any]) -> BlobView:
        children = await self.blobs.find({"parent_id": doc["_id"], "user_id": doc["user_id"], **LIVE}).to_list(None)
        derived = [derived_summary(c, doc["version"]) for c in children]
        failures = [summary(f) for f in await self.failures.open_of(doc["user_id"], blob_id=doc["_id"])]
        return to_user_blob(doc, BlobView, derived=derived, failures=failures)  # type: ignore[return-value]

    async def batch(self, user_id: str, ids: list[str]) -> tuple[list[UserBlob], list[str]]:
        # Look up by _id alone and check the owner here: some servers plan `_id $in` plus other
        # fields as a scan of the user's documents, which grows with everything the user owns.
        docs = await self.blobs.find({"_id": {"$in": ids}}).to_list(None)
        found = {
            d["_id"]: to_user_blob(d)
            for d in docs
            if d["user_id"] == user_id and d["processor_id"] == USER_PROCESSOR and not d.get("deleted")
        }
        return [found[i] for i in ids if i in found], [i for i in ids if i not in found]

    async def list_user_blobs(
        self, user_id: str, *, book_id: str | None, type_: str | None, limit: int, cursor: str | None
    ) -> tuple[list[BlobView], str | None]:
        """A page of the user's own blobs, oldest first, each with what was made from it."""
        return await list_user_blobs(
            self.blobs, self.failures, user_id, book_id=book_id, type_=type_, limit=limit, cursor=cursor
        )

    async def query_index(self, user_id: str, filters: dict[str, Any], *, limit: int) -> list[BlobIndexEntry]:
        # Tombstones are dropped here: a `$ne` in the query makes the embedded server scan the user's documents.
        docs = (
            await self.blobs.find({"user_id": user_id, **filters})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .to_list(limit)
        )
        return [to_entry(d) for d in docs if not d.get("deleted")]

    # Writes ----------------------------------------------------------------------------------

    async def create(self, request: CreateUserBlob) -> UserBlob:
        """Validate and store a user blob, filing a chapter draft under its book."""
        schema_id = request.schema_id
        await self.schemas.validate_blob(schema_id, request.data)
        if schema_id == TEXT_SCHEMA and "provenance" in request.data:
            request.data = {k: v for k, v in request.data.items() if k != "provenance"}  # the index's to keep
        book_id, chapter = book_placement(request.user_id, request.data, schema_id)
        if request.parent_id is not None:
            await self._live(request.user_id, request.parent_id)
        moment = now()
        blob_id = new_id()
        document = BlobDocument(
            id=blob_id,
            user_id=request.user_id,
            processor_id=USER_PROCESSOR,
            storage_location="index",
            remote_blob_id=blob_id,
            schema_id=schema_id,
            schema_version=await self.schemas.revision(schema_id),
            type=request.type or schema_name(schema_id),
            title=title_of(request.data, chapter),
            preview=text_of(request.data)[:PREVIEW_CHARS],
            size_bytes=len(msgspec.json.encode(request.data)),
            version=1,
            data=request.data,
            processing_state="pending",
            book_id=book_id,
            chapter=chapter,
            parent_id=request.parent_id,
            conversation_id=request.conversation_id,
            created_at=moment,
            updated_at=moment,
        )
        if schema_id == TEXT_SCHEMA:
            counted = word_counts(request.data)
            document.words, document.ai_words = counted["words"], counted["ai_words"]
        entry = outbox_entry(subjects.blob_created(schema_id), document.created(new_id()))
        doc = document.stored(outbox=[entry], **{PENDING_FLAG: True})
        key = chapter_key(request.user_id, book_id, chapter)
        if key is not None:
            doc["chapter_key"] = key
        try:
            await self.inserts.insert(doc)
        except DuplicateKeyError as exc:
            raise await self._chapter_taken(request.user_id, book_id, chapter) from exc
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc
        self.relay.notify(blob_id, doc["outbox"])
        if book_id is not None:
            await self.ensure_book(request.user_id, book_id)
        return to_user_blob(doc)

    async def _chapter_taken(self, user_id: str, book_id: str | None, chapter: int | None) -> ChapterTaken:
        holder = await self.blobs.find_one({"chapter_key": chapter_key(user_id, book_id, chapter)}, {"_id": 1})
        held_by = holder["_id"] if holder else "another draft"
        return ChapterTaken(
            f"chapter {chapter} of book {book_id} is draft {held_by}; update that blob instead",
            errors=[FieldError(pointer="/data/metadata/chapter", detail=f"taken by {held_by}")],
        )

    async def ensure_book(self, user_id: str, book_id: str, title: str | None = None) -> None:
        """File a book the first time a draft names it; its title defaults to its id."""
        if (user_id, book_id) in self._known_books:
            return
        await self.books.update_one(
            {"user_id": user_id, "book_id": book_id},
            {"$setOnInsert": {"_id": f"{user_id}/{book_id}", "title": title or book_id, "created_at": now()}},
            upsert=True,
        )
        if len(self._known_books) >= KNOWN_BOOKS_MAX:
            self._known_books.clear()
        self._known_books.add((user_id, book_id))

    async def update(self, blob_id: str, request: UpdateUserBlob) -> UserBlob:
        """Replace a user blob's data as a new version; `request.version` makes it conditional."""
        known = self._schemas_of.get(blob_id)
        if known is not None and known[0] == request.user_id:
            # A blob's schema never changes: data its schema refuses is refused before any read.
            await self.schemas.validate_blob(known[1], request.data)
        for _ in range(MAX_UPDATE_ATTEMPTS):
            doc = await self._live(request.user_id, blob_id)
            if doc.get("processor_id") != USER_PROCESSOR:
                raise BlobNotFound(f"blob {blob_id} is derived; only user blobs are edited")
            self._schemas_of[blob_id] = (request.user_id, doc["schema_id"])
            current = doc["version"]
            if request.version is not None and request.version != current:
                raise VersionMismatch(f"blob {blob_id} is at version {current}, not {request.version}")
            await self.schemas.validate_blob(doc["schema_id"], request.data)
            if doc["schema_id"] == TEXT_SCHEMA:
                request.data = with_provenance(doc["data"], request.data, request.kept)
            book_id, chapter = book_placement(request.user_id, request.data, doc["schema_id"])
            moment = now()
            title = title_of(request.data, chapter)
            preview = text_of(request.data)[:PREVIEW_CHARS]
            fields = {
                "data": request.data,
                "version": current + 1,
                "updated_at": moment,
                "title": title,
                "preview": preview,
                "book_id": book_id,
                "chapter": chapter,
                "processing_state": "pending",
                "size_bytes": len(msgspec.json.encode(request.data)),
                PENDING_FLAG: True,
                **(word_counts(request.data) if doc["schema_id"] == TEXT_SCHEMA else {}),
            }
            event = BlobUpdated(
                event_id=new_id(),
                user_id=request.user_id,
                blob_id=blob_id,
                schema_id=doc["schema_id"],
                version=current + 1,
                occurred_at=moment,
                processor_id=USER_PROCESSOR,
                type=doc["type"],
                parent_id=doc.get("parent_id"),
                book_id=book_id,
                chapter=chapter,
                title=title,
                preview=preview,
                previous_version=current,
            )
            entry = outbox_entry(subjects.blob_updated(doc["schema_id"]), event)
            update: dict[str, Any] = {"$set": fields, **push_events(entry)}
            key = chapter_key(request.user_id, book_id, chapter)
            if key is None:
                update["$unset"] = {"chapter_key": ""}
            else:
                fields["chapter_key"] = key
            try:
                # update_one, not find_one_and_update: the latter is far slower on some servers.
                result = await self.blobs.update_one({"_id": blob_id, "version": current, **LIVE}, update)
            except DuplicateKeyError as exc:
                raise await self._chapter_taken(request.user_id, book_id, chapter) from exc
            if not result.modified_count:
                continue  # someone else wrote in between: read again
            self.relay.notify(blob_id, [entry])
            if book_id is not None:
                await self.ensure_book(request.user_id, book_id)
            return to_user_blob({**doc, **fields})
        raise VersionMismatch(f"blob {blob_id} kept changing; try again")

    async def delete(
        self, user_id: str, blob_id: str, *, reason: str | None = None, wait: bool = False, unlink: bool = True
    ) -> None:
        """Tombstone a blob in one write that also holds its `blob.deleted` event and a cascade
        mark; then tombstone what was derived from it, each with its own event, and clear the mark.

        The caller's answer waits for the tombstone only (a delete costs what a save does); the
        cascade runs after it (`wait`: before returning). A crash before the write leaves the blob
        untouched; a crash after it leaves a marked tombstone whose cascade `finish_cascades`
        completes at the next start or sweep. Either way no live blob is left with its derived
        blobs half gone for longer than that. `unlink`: take it out of its parent's `derived_ids`
        (not when the parent is being deleted too).
        """
        doc = await self._live(user_id, blob_id)
        self._schemas_of.pop(blob_id, None)
        children = await self._live_children(user_id, blob_id)
        moment = now()
        event = BlobDeleted(
            event_id=new_id(),
            user_id=user_id,
            blob_id=blob_id,
            schema_id=doc["schema_id"],
            version=doc["version"],
            occurred_at=moment,
            processor_id=doc["processor_id"],
            parent_id=doc.get("parent_id"),
            book_id=doc.get("book_id"),
            chapter=doc.get("chapter"),
            derived_ids=children,
            reason=reason,
        )
        entry = outbox_entry(subjects.blob_deleted(doc["schema_id"]), event)
        result = await self.blobs.update_one(
            {"_id": blob_id, "user_id": user_id, **LIVE},
            {
                "$set": {"deleted": True, "updated_at": moment, PENDING_FLAG: True, CASCADE_FLAG: True},
                "$unset": {"chapter_key": ""},
                **push_events(entry),
            },
        )
        if result.modified_count == 0:
            raise BlobNotFound(f"blob {blob_id} does not exist")
        self.relay.notify(blob_id, [entry], deleted=True)
        parent_id = doc.get("parent_id") if unlink else None
        if wait:
            await self._cascade(user_id, blob_id, parent_id)
        else:
            self._cascade_later(user_id, blob_id, parent_id)

    def _cascade_later(self, user_id: str, blob_id: str, parent_id: str | None) -> None:
        if blob_id in self._cascading:
            return
        task = asyncio.create_task(self._cascade_logged(user_id, blob_id, parent_id))
        self._cascading[blob_id] = task
        task.add_done_callback(lambda _: self._cascading.pop(blob_id, None))

    async def _cascade_logged(self, user_id: str, blob_id: str, parent_id: str | None) -> None:
        try:
            await self._cascade(user_id, blob_id, parent_id)
        except Exception as exc:  # the mark stays: the sweep finishes it
            log.warning("the deletion of %s is left for the sweep: %s", blob_id, exc)

    async def close(self) -> None:
        """Stop the cascades under way; their marks stay, and the next start finishes them."""
        running = list(self._cascading.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _live_children(self, user_id: str, parent_id: str) -> list[str]:
        children = await self.blobs.find({"parent_id": parent_id, "user_id": user_id, **LIVE}, {"_id": 1}).to_list(None)
        return [c["_id"] for c in children]

    async def _cascade(self, user_id: str, blob_id: str, parent_id: str | None) -> None:
        """What follows a tombstone: unlink it from its parent, tombstone its derived blobs."""
        if parent_id:
            await self.blobs.update_one({"_id": parent_id}, {"$pull": {"derived_ids": blob_id}})
        # A derived blob registered after the tombstone is refused by its registration (the parent
        # is no longer live), so one sweep after the tombstone finds every child there will be.
        for child in await self._live_children(user_id, blob_id):
            with contextlib.suppress(BlobNotFound):  # its processor may be replacing it right now
                await self.delete(user_id, child, wait=True, unlink=False)  # this tombstone keeps no list
        # A tombstone whose event is out has nothing left to say: it goes, in one write (each write
        # is a commit the database syncs). One whose event is still to go loses its mark instead,
        # and the relay removes it once the event is out; if the event went out in between, it goes now.
        gone = await self.blobs.delete_one({"_id": blob_id, "deleted": True, "outbox": {"$size": 0}})
        if gone.deleted_count:
            return
        unmarked = await self.blobs.update_one(
            {"_id": blob_id, "outbox.0": {"$exists": True}}, {"$unset": {CASCADE_FLAG: ""}}
        )
        if not unmarked.matched_count:
            await self.blobs.delete_one({"_id": blob_id, "deleted": True, "outbox": {"$size": 0}})

    async def finish_cascades(self) -> int:
        """Complete the cascades a crash interrupted; returns how many tombstones it finished."""
        marked = await self.blobs.find({CASCADE_FLAG: True}, {"_id": 1, "user_id": 1, "parent_id": 1}).to_list(None)
        waiting = [doc for doc in marked if doc["_id"] not in self._cascading]  # the others are under way here
        for doc in waiting:
            await self._cascade(doc["user_id"], doc["_id"], doc.get("parent_id"))
        return len(waiting)

    async def drop_orphans(self) -> int:
        """Delete the derived blobs waiting to be announced whose parent is gone; returns how many.

        A registration inserts its blob, then links it to its parent, or undoes the insert when
        the parent was deleted meanwhile. A kill -9 between the two leaves a blob no cascade will
        find; the relay runs this before each scan, so such a blob is never announced alone."""
        waiting = await self.blobs.find(
            {PENDING_FLAG: True, "parent_id": {"$ne": None}, **LIVE}, {"_id": 1, "user_id": 1, "parent_id": 1}
        ).to_list(None)
        if not waiting:
            return 0
        parents = {doc["parent_id"] for doc in waiting}
        live = {
            (doc["_id"], doc["user_id"])
            for doc in await self.blobs.find({"_id": {"$in": sorted(parents)}, **LIVE}, {"user_id": 1}).to_list(None)
        }
        dropped = 0
        for doc in waiting:
            if (doc["parent_id"], doc["user_id"]) in live:
                continue
            with contextlib.suppress(BlobNotFound):  # its own registration may be undoing it right now
                await self.delete(doc["user_id"], doc["_id"], wait=True)
                dropped += 1
        if dropped:
            log.info("deleted %d derived blob(s) whose parent is gone", dropped)
        return dropped

    async def register_derived(self, request: RegisterDerivedBlob) -> tuple[BlobIndexEntry, bool]:
        """Index a blob a processor made; idempotent on (processor_id, remote_blob_id).

        Returns the entry and whether it was new. The parent's `derived_ids` is brought up to date
        on every call, so a retry after a crash between the two writes repairs it; that same write
        checks that the parent is the user's and still live.
        """
        book_id, chapter = await self._placement_of(request)
        moment = now()
        document = BlobDocument(
            id=request.id,
            user_id=request.user_id,
            processor_id=request.processor_id,
            storage_location=request.storage_location,
            remote_blob_id=request.remote_blob_id,
            schema_id=request.schema_id,
            schema_version=request.schema_version,
            type=request.type,
            title=request.title,
            preview=request.preview[:PREVIEW_CHARS],
            size_bytes=request.size_bytes,
            version=request.version,
            parent_id=request.parent_id,
            book_id=book_id,
            chapter=chapter,
            source_version=request.source_version,
            inputs=inputs_of(request) or None,
            created_at=moment,
            updated_at=moment,
        )
        event = document.created(new_id())
        doc, created = await self._insert_or_existing(
            request,
            document.stored(
                outbox=[outbox_entry(subjects.blob_created(request.schema_id), event)], **{PENDING_FLAG: True}
            ),
        )
        if request.parent_id is not None:
            await self._link_or_undo(request, request.parent_id, event.event_id if created else None)
        if not created and changed(doc, request):
            doc = await refresh(self.blobs, self.relay, doc, request)
        elif doc.get("awaiting"):
            # Made again with what it now uses (or found to use nothing new): it waits no more.
            await self.blobs.update_one({"_id": doc["_id"]}, {"$unset": {"awaiting": ""}})
        if created:
            self.relay.notify(request.id, doc["outbox"])
        if request.parent_id is None:
            await self.failures.resolve(request.user_id, request.processor_id, book_id=book_id)
        else:
            await self.failures.resolve(request.user_id, request.processor_id, blob_id=request.parent_id)
        return to_entry(doc), created

    async def await_input(self, request: AwaitInput) -> int:
        return await await_input(
            self.blobs, request.user_id, request.processor_id, request.input.blob_id, request.parent_ids
        )

    async def _placement_of(self, request: RegisterDerivedBlob) -> tuple[str | None, int | None]:
        """The book and chapter a derived blob belongs to: as given, else its parent's."""
        if request.parent_id is None and request.book_id is None:
            raise InvalidBlob(
                "a derived blob hangs from a parent blob or a book",
                errors=[FieldError(pointer="/parent_id", detail="parent_id or book_id is required")],
            )
        if request.parent_id is not None and request.book_id is None and request.chapter is None:
            parent = await self._live(request.user_id, request.parent_id)
            return parent.get("book_id"), parent.get("chapter")
        return request.book_id, request.chapter

    async def _insert_or_existing(
        self, request: RegisterDerivedBlob, doc: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """The document inserted (True), or the one an earlier try of the same registration stored (False)."""
        try:
            await self.inserts.insert(doc)
        except DuplicateKeyError:
            existing = await self.blobs.find_one(
                {"processor_id": request.processor_id, "remote_blob_id": request.remote_blob_id}
            ) or await self.blobs.find_one({"_id": request.id})
            if (
                existing is None
                or existing["user_id"] != request.user_id
                or existing["processor_id"] != request.processor_id
                or existing["_id"] != request.id
            ):
                raise DerivedConflict(f"blob id {request.id} is taken by another registration") from None
            return existing, False
        return doc, True

    async def _link_or_undo(self, request: RegisterDerivedBlob, parent_id: str, inserted_event: str | None) -> None:
        """Add the blob to its parent's `derived_ids`, in the write that checks the parent is the
        user's and live; if it is not, take the blob out again and answer that the parent is gone.
        `inserted_event`: the event of the document this call inserted (None on a retry)."""
        linked = await self.blobs.update_one(
            {"_id": parent_id, "user_id": request.user_id, **LIVE}, {"$addToSet": {"derived_ids": request.id}}
        )
        if linked.matched_count:
            return
        log.debug("registration of %s refused: its parent %s is gone", request.id, parent_id)
        removed = None
        if inserted_event is not None:
            # Unpublished, it can simply go; if a relay scan published it meanwhile, tombstone it.
            removed = await self.blobs.delete_one({"_id": request.id, "outbox.event_id": inserted_event})
        if removed is None or not removed.deleted_count:
            # Also when this is a retry: the first try may have been cut off (kill -9, a cancelled
            # request) between its insert and this undo, leaving a blob no cascade will find.
            with contextlib.suppress(BlobNotFound):
                await self.delete(request.user_id, request.id, wait=True)
        raise BlobNotFound(f"blob {parent_id} does not exist")
