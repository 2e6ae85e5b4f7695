"""What a processor team implements: a transform and a store. Everything else is the runtime's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Literal, Protocol

from aiohttp import web

from contracts.events import AnyEvent
from contracts.processors import DerivedBlob

from .progress import Progress


@dataclass(frozen=True)
class ProcessorInfo:
    """How a processor describes itself in the registry."""

    id: str
    name: str
    description: str
    input_schema_ids: tuple[str, ...]
    output_schema_id: str
    storage_type: str
    database_name: str
    timeout_seconds: float = 120.0
    # True: older versions stay readable in the processor's store after a newer one is made
    # (only the index moves on to the newest); False: they are deleted.
    keeps_history: bool = False
    # The package whose `schemas/` directory holds the schemas this processor owns (its output's,
    # every revision it ships); the runtime registers them at start. Empty: it owns none.
    schema_package: str = ""
    # "blob": one output per input blob; "book": one output per book (it registers with a book id, no parent).
    output_scope: Literal["blob", "book"] = "blob"
    # True: `transform(source, progress)` reports its partial output as it goes (`blob.progress`).
    streams: bool = False
    # Schemas it reads besides its inputs (story-bible entries): the runtime hands the ones that
    # apply to the source's book to the transform (`Source.reads`), records which versions each
    # output used (`Derived.inputs`), and makes again what used one when it changes.
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """The user blob a derived blob is made from, at one version."""

    id: str
    user_id: str
    schema_id: str
    version: int
    data: dict[str, Any]
    title: str = ""
    book_id: str | None = None
    chapter: int | None = None
    # The blobs of the processor's `reads` that apply to this source's book, by schema.
    reads: dict[str, tuple[Source, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class InputRef:
    """A blob read besides the parent, at the version read."""

    blob_id: str
    version: int


@dataclass(frozen=True)
class Derived:
    """What a transform made: the output data and how it was made."""

    data: dict[str, Any]
    title: str
    preview: str
    model_used: str = ""  # the model that made it, if one did
    tokens_used: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[InputRef, ...] = ()  # which of `Source.reads` it used, at which versions


class DerivedStore(Protocol):
    """A processor's own database as its query API reads it; every read is filtered by user id."""

    storage_location: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ready(self) -> None: ...
    async def get(self, user_id: str, blob_id: str) -> DerivedBlob | None: ...
    async def batch(self, user_id: str, ids: list[str]) -> list[DerivedBlob]: ...
    async def since(self, user_id: str, since: datetime | None, limit: int) -> list[DerivedBlob]: ...
    async def for_parent(self, user_id: str, parent_id: str) -> list[DerivedBlob]: ...
    async def delete(self, user_id: str, ids: list[str]) -> int: ...


class Processor(Protocol):
    """A processor: its description, its store, its own routes beyond the query API."""

    @property
    def info(self) -> ProcessorInfo: ...
    @property
    def store(self) -> DerivedStore: ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def extra_routes(self) -> list[web.RouteDef]: ...


class DerivingStore(DerivedStore, Protocol):
    """A store the runtime writes to: one upsert per derived blob, keyed by its deterministic id."""

    async def upsert(self, blob: DerivedBlob) -> None: ...


class DerivingProcessor(Processor, Protocol):
    """A processor that makes one derived blob from one user blob: all it adds is the transform."""

    @property
    def store(self) -> DerivingStore: ...

    async def transform(self, source: Source) -> Derived: ...


class ReadingProcessor(DerivingProcessor, Protocol):
    """A deriving processor with `info.reads`: it says which sources a new or changed read blob
    would now be used for, beyond those whose outputs already used it (the runtime knows those)."""

    def would_use(self, read: Source, sources: list[Source]) -> list[str]:
        """The ids of `sources` whose output would use `read` now (a name that appears in a draft)."""
        ...


class StreamingProcessor(DerivingProcessor, Protocol):
    """A deriving processor that tells its partial output while it works (`info.streams`)."""

    async def transform(self, source: Source, progress: Progress | None = None) -> Derived: ...


class Handler(Protocol):
    """What the runtime's consumers hand each event to."""

    def subjects(self) -> list[str]: ...
    async def handle(self, event: AnyEvent, *, attempt: int = 1) -> Outcome:
        """`attempt`: which delivery of the event this is (JetStream's count)."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Outcome(Enum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    DELETED = "deleted"
    SUPERSEDED = "superseded"  # the source changed while it was derived; the newer event derives
