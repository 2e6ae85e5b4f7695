"""Wire models of blobs, the BlobIndex, user state, books and the registries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from .data import Span
from .ids import Id, SchemaId

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Text = Annotated[str, msgspec.Meta(max_length=5000)]
PITCH_SCHEMA = "pitch-v1"
PITCH_EXPORT_FORMATS = ("pdf", "docx", "md")  # `GET /api/v1/blobs/{id}/export?format=` of pitch notes
COMPILED_BOOK_SCHEMA = "compiled-book-v1"
CODEX_SCHEMA = "codex-entry-v1"  # a story-bible entry: a user blob, listed with its book (or every book)
BOOK_EXPORT_FORMATS = ("epub", "docx", "pdf", "md", "txt")  # `GET …/books/{book_id}/export?format=`
LongText = Annotated[str, msgspec.Meta(max_length=100_000)]  # front or back matter
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# A BCP 47 language tag, as EPUB and Office files carry it: `en`, `en-GB`, `pt-BR`.
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}\Z")]

USER_PROCESSOR = "user"


class UserBlob(msgspec.Struct, kw_only=True):
    """A blob the user wrote, as the index service stores it."""

    id: str
    user_id: str
    schema_id: str
    type: str
    data: dict[str, Any]
    version: int
    processing_state: str
    created_at: datetime
    updated_at: datetime
    book_id: str | None = None
    chapter: int | None = None
    conversation_id: str | None = None
    parent_id: str | None = None
    derived_ids: list[str] = []


class FailureSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A processor gave up on a blob (at `source_version`) or on a book's compile request."""

    processor: str
    reason: str
    failed_at: datetime
    source_version: int | None = None
    request_id: str | None = None
    blob_id: str | None = None  # the blob it gave up on (a draft, or a blob up a chain); none for a book


class DerivedSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a blob view says of one blob derived from it."""

    id: str
    processor: str
    schema_id: str
    preview: str
    status: str
    version: int | None = None
    source_version: int | None = None
    parent_id: str | None = None  # set below the first level of a chain: the blob it was made from
    depth: int = 1  # 1: made from this blob; 2: from one of those; ...


class ProcessingStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where one processor is with a blob's current version: pending, processing, done or failed."""

    state: str
    reason: str | None = None  # failed: why
    derived_id: str | None = None  # done: what it made


PROCESSING_ORDER = ("failed", "processing", "pending", "done")


def processing_summary(states: dict[str, ProcessingStatus]) -> str:
    """A blob's one `processing_state`: the first of failed, processing, pending any processor is;
    `done` when all are, or when nothing consumes the blob."""
    found = {s.state for s in states.values()}
    return next((state for state in PROCESSING_ORDER if state in found), "done")


class WorkItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A user blob a processor has not finished with (in flight) or gave up on (failed)."""

    blob_id: str
    schema_id: str
    version: int
    processor: str
    state: str
    reason: str | None = None
    book_id: str | None = None
    chapter: int | None = None


class InFlightSummary(msgspec.Struct, kw_only=True):
    """A derived blob being made from this version of the blob now: its partial text so far.

    `progress_id`: the last progress message it includes; a socket opened with
    `?last_progress_id=` that number goes on from there without a gap.
    """

    processor: str
    derived_id: str
    parent_version: int
    attempt: int
    sections: int
    sections_done: int
    text: str
    progress_id: int


class BlobView(UserBlob, kw_only=True):
    """A user blob with summaries of its derived blobs."""

    derived: list[DerivedSummary] = []
    failures: list[FailureSummary] = []
    # Per processor that consumes this blob's schema; `processing_state` is their sum (failed,
    # processing, pending, done: the first that any of them is).
    processing: dict[str, ProcessingStatus] = {}
    in_flight: list[InFlightSummary] = []  # filled by the gateway from the progress stream
    pitch: dict[str, Any] | None = None  # pitch notes: the current pitch made from them (the gateway's)


class InputUsed(msgspec.Struct, kw_only=True, frozen=True):
    """An input a processor read besides its parent (a story-bible entry), at the version it read."""

    blob_id: Id
    version: Annotated[int, msgspec.Meta(ge=1, le=2**62)]


class InputChanged(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An input a derived blob was made with that has moved on since: why the blob is stale."""

    blob_id: str
    name: str  # the input's title (a story-bible entry's name)
    used_version: int
    version: int | None = None  # its current version; None: it was deleted

    def reason(self) -> str:
        what = f"{self.name!r}" if self.name else self.blob_id
        if self.version is None:
            return f"{what} was deleted"
        if self.used_version == 0:
            return f"{what} is new"
        return f"{what} changed (v{self.used_version} -> v{self.version})"


class BlobIndexEntry(msgspec.Struct, kw_only=True):
    """Where one blob lives, whoever holds it; user blobs have one too (processor_id "user")."""

    id: str
    user_id: str
    processor_id: str
    storage_location: str
    remote_blob_id: str
    schema_id: str
    schema_version: int
    type: str
    title: str
    preview: str
    size_bytes: int
    version: int
    created_at: datetime
    updated_at: datetime
    parent_id: str | None = None
    derived_ids: list[str] = []
    book_id: str | None = None
    chapter: int | None = None
    source_version: int | None = None
    inputs: list[InputUsed] = []  # what a processor read besides the parent to make it


class DerivedRef(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The newest blob one processor made for a chapter (from its draft, or down a chain) or a book."""

    id: str
    schema_id: str
    parent_id: str | None = None  # the draft, or the blob one level up the chain; none for a book's output
    source_version: int | None = None
    depth: int = 1  # 1: made from the draft; 2: from a level-1 blob; ...; 0 for a book's output
    inputs_changed: list[InputChanged] = []  # inputs besides the parent that moved on since: it is stale


class ChapterState(msgspec.Struct, kw_only=True):
    chapter: int
    title: str
    draft_blob_id: str
    processed_blob_ids: dict[str, str] = {}  # made from the draft itself, by processor
    failures: list[FailureSummary] = []
    derived: dict[str, DerivedRef] = {}  # every level of every chain, by processor
    words: int = 0  # the draft's words (counted when it is saved)
    ai_words: int = 0  # of those, the words the model wrote and the writer kept (the draft's provenance)


class BookMetadata(msgspec.Struct, kw_only=True):
    """What a book says of itself beyond its title, used by every export."""

    subtitle: str | None = None
    author: str | None = None  # the byline; a manuscript's running head takes its last word
    language: str | None = None  # BCP 47; exports assume `en` without one
    dedication: str | None = None
    front_matter: str | None = None  # the writer's text (their marks: docs/decisions.md): a foreword, an epigraph
    back_matter: str | None = None  # the writer's text: acknowledgements, about the author
    contact: str | None = None  # a manuscript's contact block (name, address, email), one item a line


class BookState(BookMetadata, kw_only=True):
    book_id: str
    title: str
    description: str | None = None
    chapter_count: int = 0
    chapters: list[ChapterState] = []
    created_at: datetime | None = None
    compiled_blob_id: str | None = None  # the newest compiled version's index entry
    compiled_version: int | None = None
    compile_failure: FailureSummary | None = None  # the newest compile request its processor gave up on
    drafts: list[UserBlob] | None = None  # the chapters' drafts, whole, when asked for (`?include=drafts`)
    codex: list[UserBlob] | None = None  # its story-bible entries (its own, then every book's), with the drafts
    outputs: dict[str, DerivedRef] = {}  # book-level outputs (a compiled book), newest by processor
    words: int = 0  # its chapters' words
    ai_words: int = 0  # of those, the words the model wrote (publishers ask authors to disclose the share)


class BookList(msgspec.Struct, kw_only=True):
    """`GET /api/v1/users/{uid}/books`."""

    books: list[BookState]


class CompiledVersion(msgspec.Struct, kw_only=True):
    """One compiled version of a book: which chapters used the expansion, which the draft."""

    version: int
    blob_id: str
    word_count: int
    chapter_count: int
    created_at: datetime
    expanded: list[int]
    draft: list[int]


class VersionList(msgspec.Struct, kw_only=True):
    versions: list[CompiledVersion]


class ChapterChange(msgspec.Struct, kw_only=True):
    chapter: int
    change: Literal["added", "removed", "changed"]
    title: str
    title_changed: bool
    words_added: int
    words_removed: int


class VersionDiff(msgspec.Struct, kw_only=True):
    """What changed from compiled version `from` to `to`."""

    from_: int = msgspec.field(name="from")
    to: int
    chapters: list[ChapterChange]
    unchanged: int
    words_added: int
    words_removed: int


class CompileRequest(msgspec.Struct, kw_only=True):
    """`POST .../books/{book_id}/compile` (client body, optional)."""

    prefer: Literal["expanded", "draft"] = "expanded"
    # The model's words: kept as they are, left out (each chapter is its draft without the spans the
    # model wrote), or marked `[AI]…[/AI]` (an expanded chapter whole, a draft's spans).
    ai: Literal["include", "omit", "mark"] = "include"


class CompileAccepted(msgspec.Struct, kw_only=True):
    request_id: str
    book_id: str
    status: str = "requested"


class UserState(msgspec.Struct, kw_only=True):
    user_id: str
    total_blobs: int
    blobs_by_processor: dict[str, int]
    books: list[BookState]
    conversations: list[str]
    updated_at: datetime | None
    in_flight: list[WorkItem] = []  # pending or processing, per blob and processor
    failed: list[WorkItem] = []  # given up on, with the reason


# Requests ---------------------------------------------------------------------------------------


class CreateBook(msgspec.Struct, kw_only=True):
    """Create a book (client body); the id is made from nothing when absent."""

    title: Title
    id: Id | None = None
    description: Text | None = None


class UpdateBook(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`PATCH .../books/{book_id}` (client body): the fields given change; `null` clears one."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType | None = msgspec.UNSET
    subtitle: Title | msgspec.UnsetType | None = msgspec.UNSET
    author: Name | msgspec.UnsetType | None = msgspec.UNSET
    language: Language | msgspec.UnsetType | None = msgspec.UNSET
    dedication: Text | msgspec.UnsetType | None = msgspec.UNSET
    front_matter: LongText | msgspec.UnsetType | None = msgspec.UNSET
    back_matter: LongText | msgspec.UnsetType | None = msgspec.UNSET
    contact: Text | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> dict[str, object]:
        """The fields given, by name (None for the ones cleared)."""
        return {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not msgspec.UNSET}


class CreateUserBook(CreateBook, kw_only=True):
    """Create a book on behalf of a user (internal body)."""

    user_id: Id


class CreateBlob(msgspec.Struct, kw_only=True):
    """Store a user blob (client body)."""

    schema_id: SchemaId
    data: dict[str, Any]
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    parent_id: Id | None = None
    conversation_id: Id | None = None


class CreateUserBlob(CreateBlob, kw_only=True):
    """Store a user blob on behalf of a user (internal body)."""

    user_id: Id


class UpdateBlob(msgspec.Struct, kw_only=True):
    """Replace a blob's data (client body); `version` makes it conditional."""

    data: dict[str, Any]
    version: int | None = None


class UpdateUserBlob(UpdateBlob, kw_only=True):
    user_id: Id
    # Spans of the new content the model wrote (the keep route's); a draft's other spans move with
    # the edit. A client's own `data.provenance` is never taken: the index keeps it.
    kept: Annotated[list[Span], msgspec.Meta(max_length=100)] = []


class RegisterDerivedBlob(msgspec.Struct, kw_only=True):
    """A processor announces a blob it made and holds (internal body)."""

    id: Id
    user_id: Id
    processor_id: Id
    storage_location: str
    remote_blob_id: Id
    schema_id: SchemaId
    parent_id: Id | None = None  # None for what is made from a whole book, which then names book_id
    type: str = "derived"
    title: str = ""
    preview: str = ""
    size_bytes: int = 0
    schema_version: int = 1
    version: int = 1
    source_version: int | None = None
    book_id: Id | None = None
    chapter: int | None = None
    # The inputs besides the parent it was made with (the processor declares their schemas as `reads`);
    # the index follows these edges as it follows parents. Registering again with other inputs (the
    # same blob made again after one of them changed) updates the entry.
    inputs: Annotated[list[InputUsed], msgspec.Meta(max_length=1000)] = []


class AwaitInput(msgspec.Struct, kw_only=True):
    """A processor tells the index that what it made from `parent_ids` will use a new input (an entry
    now named in those drafts): views show them stale until it registers them again (internal body)."""

    user_id: Id
    processor_id: Id
    input: InputUsed
    parent_ids: Annotated[list[Id], msgspec.Meta(max_length=1000)]


class RecordFailure(msgspec.Struct, kw_only=True):
    """A processor reports a message it gave up on (internal body); `key` makes reports idempotent."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    user_id: Id
    processor_id: Id
    reason: Annotated[str, msgspec.Meta(max_length=2000)]
    blob_id: Id | None = None
    source_version: Annotated[int, msgspec.Meta(ge=1, le=2**62)] | None = None
    book_id: Id | None = None
    request_id: Id | None = None


class BlobBatchRequest(msgspec.Struct, kw_only=True):
    """Fetch many blobs of one user in one call."""

    user_id: Id
    ids: Annotated[list[Id], msgspec.Meta(max_length=1000)]


class BlobBatch(msgspec.Struct, kw_only=True):
    blobs: list[dict[str, Any]]
    missing: list[str]


class BlobList(msgspec.Struct, kw_only=True):
    blobs: list[BlobView]
    next_cursor: str | None
    errors: list[dict[str, Any]] = []


class SchemaDocument(msgspec.Struct, kw_only=True):
    """A JSON Schema in the registry; `revision` counts compatible changes under one id."""

    id: SchemaId
    schema: dict[str, Any]
    revision: int = 1
    description: str | None = None
    created_at: datetime | None = None


class RegisterSchema(msgspec.Struct, kw_only=True):
    id: SchemaId
    schema: dict[str, Any]
    description: Text | None = None


class ValidationResult(msgspec.Struct, kw_only=True):
    valid: bool
    errors: list[dict[str, str]] = []


class ProcessorRegistration(msgspec.Struct, kw_only=True):
    """A processor's entry in the registry: how to reach it, never how to reach its database."""

    id: Id
    name: Title
    storage_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    database_name: str
    output_schema_id: SchemaId
    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]
    input_schema_ids: list[SchemaId] = []
    description: Text = ""
    health_endpoint: str = "/healthz"
    query_endpoint: str = "/blobs/batch"
    event_subscriptions: list[str] = []
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 4
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    active: bool = True
    created_at: datetime | None = None
    # "blob": one output per input blob (an expansion); "book": one per book (a compiled book).
    output_scope: Literal["blob", "book"] = "blob"
    # Schemas it reads besides its inputs (story-bible entries): their changes re-derive what used them.
    reads: list[SchemaId] = []

    def derives_from(self, schema_id: str) -> bool:
        """Whether it makes a blob of each blob of `schema_id`: it subscribes to their creation, and
        does not merely read them (an entry it reads is never waited on for an output)."""
        return f"blob.created.{schema_id}" in self.event_subscriptions and schema_id not in self.reads
