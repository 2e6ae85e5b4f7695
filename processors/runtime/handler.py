"""What the runtime does with one event: derive once, store, register, tidy superseded versions."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import cast

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts import subjects
from contracts.events import AnyEvent, BlobChanged, BlobDeleted
from contracts.models import USER_PROCESSOR, InputUsed, RegisterDerivedBlob
from contracts.processors import DerivedBlob
from contracts.validation import ValidatorCache
from servicekit.stream import unsubscribe_quietly

from .base import Derived, DerivingProcessor, Outcome, Source, StreamingProcessor
from .errors import PermanentError, SourceInvalid, Superseded
from .index_client import IndexClient
from .inflight import LATEST, InFlight
from .peers import Peers
from .progress import Derivation, NoProgress, Progress
from .reread import Reread

ProgressFactory = Callable[[Derivation], Progress]

log = logging.getLogger(__name__)
CRASH_EXIT_CODE = 87


def _now_ms() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def derived_id(processor_id: str, source_id: str, source_version: int, schema_id: str | None = None) -> str:
    """The one id a derived blob can have: made from its source, the source's version and the
    processor, and from its output schema past a first major version (so `-v2` of an item is a
    blob of its own beside the `-v1` one, while `-v1` ids stay what they always were)."""
    key = f"{processor_id}\0{source_id}\0{source_version}"
    if schema_id is not None and not schema_id.endswith("-v1"):
        key += f"\0{schema_id}"
    return f"{processor_id}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def register_request(
    processor_id: str,
    output_schema_id: str,
    storage_location: str,
    blob: DerivedBlob,
    book_id: str | None = None,
    chapter: int | None = None,
) -> RegisterDerivedBlob:
    """What the index is told of a derived blob: where it lives, what it was made from, its version."""
    return RegisterDerivedBlob(
        id=blob.id,
        user_id=blob.user_id,
        processor_id=processor_id,
        storage_location=storage_location,
        remote_blob_id=blob.id,
        schema_id=blob.schema_id,
        parent_id=blob.parent_blob_id,
        type=output_schema_id.rsplit("-v", 1)[0],
        title=blob.title,
        preview=blob.preview,
        size_bytes=len(str(blob.data)),
        version=blob.version,
        source_version=blob.source_version,
        book_id=book_id,
        chapter=chapter,
        inputs=blob.inputs,
    )


class _Change(msgspec.Struct):
    """What the watcher reads of an update or a deletion."""

    event: str
    user_id: str
    blob_id: str
    version: int = 0


_CHANGES = msgspec.json.Decoder(_Change)


class DerivingHandler:
    """Turns blob events into derived blobs, idempotently in effect."""

    def __init__(
        self,
        processor: DerivingProcessor,
        index: IndexClient,
        validators: ValidatorCache,
        *,
        peers: Peers | None = None,
        crash_after_store: bool = False,
        progress: ProgressFactory | None = None,
        nc: NatsClient | None = None,
    ) -> None:
        self.processor = processor
        self.index = index
        self.peers = peers
        self.validators = validators
        self.crash_after_store = crash_after_store
        self.progress = progress
        self.nc = nc
        self.inflight = InFlight()
        self.reread = Reread(self)
        self._watching: list[Subscription] = []

    def subjects(self) -> list[str]:
        """Its inputs' changes and deletions, deletions of its own output, and its replays."""
        info = self.processor.info
        found = []
        for schema_id in info.input_schema_ids:
            found += [
                subjects.blob_created(schema_id),
                subjects.blob_updated(schema_id),
                subjects.blob_deleted(schema_id),
            ]
        for schema_id in info.reads:
            found += [
                subjects.blob_created(schema_id),
                subjects.blob_updated(schema_id),
                subjects.blob_deleted(schema_id),
            ]
        return [*found, subjects.blob_deleted(info.output_schema_id), subjects.processor_replay(info.id)]

    async def start(self) -> None:
        """Watch the inputs' updates and deletions as they are published, whichever instance
        handles them, to drop work on a version that a newer one replaced."""
        if self.nc is None:
            return
        for schema_id in self.processor.info.input_schema_ids:
            for subject in (subjects.blob_updated(schema_id), subjects.blob_deleted(schema_id)):
                self._watching.append(await self.nc.subscribe(subject, cb=self._on_change))
        for schema_id in self.processor.info.reads:
            for subject in (
                subjects.blob_created(schema_id),
                subjects.blob_updated(schema_id),
                subjects.blob_deleted(schema_id),
            ):
                self._watching.append(await self.nc.subscribe(subject, cb=self._on_read_change))

    async def stop(self) -> None:
        for subscription in self._watching:
            await unsubscribe_quietly(subscription)
        self._watching.clear()

    async def _on_change(self, message: Msg) -> None:
        try:
            event = _CHANGES.decode(message.data)
        except msgspec.DecodeError:
            return
        self.inflight.supersede(
            event.user_id, event.blob_id, LATEST if event.event == "blob.deleted" else event.version
        )

    async def _on_read_change(self, message: Msg) -> None:
        try:
            event = _CHANGES.decode(message.data)
        except msgspec.DecodeError:
            return
        self.reread.forget(event.user_id)

    async def handle(self, event: AnyEvent, *, attempt: int = 1) -> Outcome:
        info = self.processor.info
        if isinstance(event, BlobChanged | BlobDeleted) and event.schema_id in info.reads:
            return await self.reread.changed(event)
        if isinstance(event, BlobDeleted):
            if event.processor_id == info.id:
                if event.reason == "superseded" and info.keeps_history:
                    return Outcome.SKIPPED  # we replaced it ourselves; its old version stays readable
                # One of ours was deleted through the index: drop our copy.
                await self.processor.store.delete(event.user_id, [event.blob_id])
                return Outcome.DELETED
            return await self._parent_deleted(event.user_id, event.blob_id)
        if not isinstance(event, BlobChanged) or event.schema_id not in info.input_schema_ids:
            return Outcome.SKIPPED
        # Always derive from the current version: an old event then makes the same blob as a new one.
        if event.processor_id == USER_PROCESSOR:
            source = await self.index.source(event.user_id, event.blob_id)
        elif self.peers is not None:
            source = await self.peers.source(event)  # another processor's output: down a chain
        else:
            raise PermanentError(f"{info.id} cannot read {event.processor_id}'s blobs")
        if source is None:
            # Deleted since. Its deletion event tidied up what had been made before it; what a
            # derivation in flight made after it, or a registration a crash cut short, is tidied here.
            return await self._parent_deleted(event.user_id, event.blob_id)
        if source.version > event.version:
            # The source moved on since this event: the newer version's own event derives it. A
            # writer typing saves a version every few seconds; a processor behind would otherwise
            # register every one it missed, each a write to the index, only to drop it.
            return Outcome.SUPERSEDED
        try:
            return await self.derive(source, attempt=attempt)
        except Superseded as exc:
            log.info("%s", exc)
            return Outcome.SUPERSEDED

    async def derive(self, source: Source, *, attempt: int = 1, refresh: bool = False) -> Outcome:
        """Make (or find) the blob `source` derives, register it, tidy what it supersedes.

        `refresh`: make it again although it exists, because something it reads changed; what the
        transform can reuse it does (text expansion: every section whose receipt did not change)."""
        info = self.processor.info
        store = self.processor.store
        if source.schema_id not in self.validators:
            # Another processor's output, registered after we started: the registry has it now.
            schema = await self.index.schema(source.schema_id)
            if schema is not None:
                self.validators.put(source.schema_id, schema)
        errors = self.validators.validate(source.schema_id, source.data) if source.schema_id in self.validators else []
        if errors:
            raise SourceInvalid(
                f"blob {source.id} v{source.version} does not match {source.schema_id}: "
                + "; ".join(f"{e.pointer}: {e.detail}" for e in errors)
            )
        blob_id = derived_id(info.id, source.id, source.version, info.output_schema_id)
        if refresh:
            # A derivation under way may have read the inputs before they changed: let it land,
            # then make the blob again (what did not change is reused).
            await self.inflight.settled(blob_id)
            await self.inflight.settled(f"{blob_id}#refresh")
        blob = await store.get(source.user_id, blob_id)
        outcome = Outcome.DUPLICATE
        if blob is None or refresh:
            started = time.perf_counter()
            previous = blob
            if info.reads:
                source = replace(source, reads=await self.reread.reads_for(source, fresh=refresh))
            made = await self.inflight.run(
                # Not made yet: the refresh is the first derivation, and the event's own joins it.
                f"{blob_id}#refresh" if previous is not None else blob_id,
                source.user_id,
                source.id,
                source.version,
                lambda: self._transform(source, blob_id, attempt),
            )
            output_errors = self.validators.validate(info.output_schema_id, made.data)
            if output_errors:
                raise PermanentError(f"{info.id} produced invalid {info.output_schema_id}: {output_errors[0]}")
            blob = DerivedBlob(
                id=blob_id,
                user_id=source.user_id,
                processor_id=info.id,
                schema_id=info.output_schema_id,
                parent_blob_id=source.id,
                source_version=source.version,
                data=made.data,
                title=made.title,
                preview=made.preview,
                processing_time_ms=round((time.perf_counter() - started) * 1000),
                model_used=made.model_used,
                tokens_used=made.tokens_used,
                created_at=_now_ms(),
                version=previous.version + 1 if previous is not None else 1,
                inputs=[InputUsed(blob_id=i.blob_id, version=i.version) for i in made.inputs],
            )
            await store.upsert(blob)
            if self.crash_after_store:
                log.error("test hook: exiting after the store write and before registration and ack")
                os._exit(CRASH_EXIT_CODE)
            outcome = Outcome.PROCESSED
        entry = await self.index.register(
            register_request(
                info.id, info.output_schema_id, store.storage_location, blob, source.book_id, source.chapter
            )
        )
        if entry is None:
            # The parent went away while we worked: what we made has no place to hang.
            await store.delete(source.user_id, [blob.id])
            return Outcome.SKIPPED
        if source.version > 1 or not info.output_schema_id.endswith("-v1"):
            # A first version of the source supersedes nothing, unless the output has moved on
            # to a new major version since (a re-derivation): then the old major version goes.
            await self._drop_superseded(source.user_id, source.id)
        return outcome

    async def _transform(self, source: Source, blob_id: str, attempt: int) -> Derived:
        """The processor's transform; a streaming one tells its progress on the progress stream."""
        info = self.processor.info
        derivation = Derivation(source.user_id, source.id, source.version, blob_id, info.id, attempt)
        progress = self.progress(derivation) if self.progress is not None else NoProgress()
        try:
            if info.streams:
                return await cast(StreamingProcessor, self.processor).transform(source, progress)
            # One section, no text: enough for readers to see the work under way, then done.
            progress.begin(1)
            progress.started(0)
            made = await self.processor.transform(source)
            progress.done(0)
            return made
        finally:
            await progress.close()  # everything told is on the stream before the blob is announced

    async def _drop_superseded(self, user_id: str, parent_id: str) -> None:
        """The index keeps only the blob made from the newest source version in the current output
        schema; the store too, unless the processor keeps its history."""
        made = await self.processor.store.for_parent(user_id, parent_id)
        if len(made) < 2:
            return
        output = self.processor.info.output_schema_id
        current = [b for b in made if b.schema_id == output]
        if not current:
            return
        newest = max(b.source_version or 0 for b in current)
        # Older versions of the source, and what an older major version of the output made.
        old = [b.id for b in made if b.schema_id != output or (b.source_version or 0) < newest]
        for blob_id in old:
            await self.index.delete(user_id, blob_id, superseded=True)
        if not self.processor.info.keeps_history:
            await self.processor.store.delete(user_id, old)

    async def _parent_deleted(self, user_id: str, parent_id: str) -> Outcome:
        made = await self.processor.store.for_parent(user_id, parent_id)
        for blob in made:
            await self.index.delete(user_id, blob.id)
        await self.processor.store.delete(user_id, [b.id for b in made])
        return Outcome.DELETED
