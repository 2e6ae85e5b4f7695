"""Gathering a book or a list of blobs from the stores that hold its pieces.

Read the index once, group the ids by the store that holds them, make one batch call per store,
all at once, each with its own deadline inside the request's budget, and merge. A store that is
slow, down or behind an open circuit costs at most its deadline: its pieces are `unavailable` and
the answer is still a 200. Only when the index cannot answer is the request an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from contracts.models import BlobList, BookState, ChapterState, FailureSummary, InputChanged
from contracts.views import (
    FAILED,
    MISSING,
    OK,
    PENDING,
    RETIRED,
    STALE,
    UNAVAILABLE,
    BlobListItem,
    BlobListView,
    BookRef,
    BookView,
    ChapterView,
    DerivedView,
    SourceStatus,
    ViewError,
)
from gateway.errors import IndexUnavailable, Overloaded, UpstreamProblem, ViewNotFound
from gateway.fanout.registry import Directory
from gateway.fanout.sources import SHED, Source, SourceFailed, SourceResult
from gateway.fanout.staleness import reason_of, with_stale_sections
from gateway.resilience.limiter import Shed
from servicekit.urls import UrlPath, url_path

DRAFT_SCHEMA = "text-input-v1"  # a chapter's draft: the core's input, where every chain starts
Repair = Callable[[str, dict[str, Any], str], Awaitable[None]]  # (processor, parent blob, derived id)


@dataclass
class _Trouble:
    """What went wrong across a view's chapters, gathered into its `errors`."""

    failed: list[ViewError] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)
    overdue: dict[str, list[str]] = field(default_factory=dict)

    def errors(self, grace: float) -> list[ViewError]:
        found = list(self.failed)
        for processor, ids in self.overdue.items():
            found.append(
                ViewError(
                    source=processor,
                    status=PENDING,
                    detail=f"no current output after {grace:g} s; requested again",
                    ids=ids,
                )
            )
        for processor, ids in self.missing.items():
            found.append(
                ViewError(
                    source=processor,
                    status=MISSING,
                    detail="the index points at blobs this store does not have; repair requested",
                    ids=ids,
                )
            )
        return found


@dataclass(frozen=True)
class Budget:
    """Until when (time.monotonic) a request's calls may wait for a slot at their source."""

    deadline: float


def _failure_of(
    failures: list[FailureSummary], processor: str, draft_id: str, version: int, current: set[str]
) -> FailureSummary | None:
    """The processor's failure on this chapter's current input: the draft at its current version,
    or the current blob one level up its chain (a failure on an older input no longer counts)."""

    def counts(failure: FailureSummary) -> bool:
        if failure.processor != processor:
            return False
        if failure.blob_id is None or failure.blob_id == draft_id:
            return (failure.source_version or 0) >= version
        return failure.blob_id in current

    found = [f for f in failures if counts(f)]
    return found[-1] if found else None


def _unregistered(name: str) -> SourceResult:
    return SourceResult(name, UNAVAILABLE, 0.0, error=f"{name} is not in the processor registry")


class Aggregator:
    def __init__(
        self,
        index: Source,
        directory: Directory,
        *,
        total: float,
        repair: Repair,
        pending_grace: float = 30.0,
        expansion_schema: str = "expanded-text-v1",
        compiled_schema: str = "compiled-book-v1",
    ) -> None:
        self.index = index
        self.directory = directory
        self.total = total
        self.repair = repair
        self.pending_grace = pending_grace
        self.expansion_schema = expansion_schema
        self.compiled_schema = compiled_schema

    def budget(self) -> Budget:
        return Budget(time.monotonic() + self.total)

    async def _index_json(
        self, path: UrlPath, budget: Budget, request_id: str, params: dict[str, str] | None = None
    ) -> bytes:
        try:
            status, payload = await self.index.request(
                "GET", path, request_id=request_id, deadline=budget.deadline, params=params
            )
        except Shed as exc:
            raise Overloaded(str(exc), retry_after=exc.retry_after) from exc
        except SourceFailed as exc:
            raise IndexUnavailable(str(exc)) from exc
        if status == 404:
            raise ViewNotFound("no such book")
        if 400 <= status < 500:
            raise UpstreamProblem(status, payload)
        if status != 200:
            raise IndexUnavailable(f"the index answered {status}")
        return payload

    async def _fan_out(
        self, wanted: dict[str, list[str]], user_id: str, budget: Budget, request_id: str
    ) -> dict[str, SourceResult]:
        """One batch call per store, all at once."""

        async def one(name: str, ids: list[str]) -> SourceResult:
            source = await self.directory.source(name, request_id=request_id)
            if source is None:
                return _unregistered(name)
            return await source.batch(user_id, ids, request_id=request_id, deadline=budget.deadline)

        names = [n for n, ids in wanted.items() if ids]
        results = await asyncio.gather(*(one(n, wanted[n]) for n in names))
        shed = [r for r in results if r.status == SHED]
        if shed:
            # Busy, not broken: the whole request is refused (and retried) rather than half-served.
            raise Overloaded(
                shed[0].error or "a store is at its limit", retry_after=max(r.retry_after or 1.0 for r in shed)
            )
        return dict(zip(names, results, strict=True))

    @staticmethod
    def _reports(results: dict[str, SourceResult]) -> tuple[dict[str, SourceStatus], list[ViewError]]:
        sources = {n: SourceStatus(status=r.status, ms=round(r.ms, 1), count=len(r.blobs)) for n, r in results.items()}
        errors = [
            ViewError(source=n, status=UNAVAILABLE, detail=r.error or "unavailable")
            for n, r in results.items()
            if r.status != OK
        ]
        return sources, errors

    def _at_the_door(self, budget: Budget, processors: list[str]) -> None:
        """Shed now, before any work, when a store this view needs could not be reached within the
        budget anyway: a lookup made for a view that is then shed is work thrown away."""
        remaining = budget.deadline - time.monotonic()
        sources = [self.index, *(self.directory.sources[p] for p in processors if p in self.directory.sources)]
        for source in sources:
            wait = source.limit.expected_wait()
            if wait > remaining:
                source.count_shed()
                raise Overloaded(f"{source.name} is at its concurrency limit", retry_after=max(1.0, wait))

    def _wanted(self, include: frozenset[str] | None) -> tuple[list[str], list[str]]:
        """The processors a view shows: per chapter (every chain from a draft), per book."""
        chain = self.directory.chain(DRAFT_SCHEMA)
        books = self.directory.book_outputs()
        if include is not None:
            chain, books = [p for p in chain if p in include], [p for p in books if p in include]
        return chain, books

    async def book_view(
        self,
        user_id: str,
        book_id: str,
        request_id: str,
        *,
        include: frozenset[str] | None = None,
        expanded: bool = False,
    ) -> BookView:
        """A book with every chapter's draft and what every active processor made of it; `include`
        limits it to those processors (and the stores asked to theirs); `expanded` adds each
        chapter's expansion whole, as the view used to carry it."""
        budget = self.budget()
        self._at_the_door(budget, [p for group in self._wanted(include) for p in group])
        # One call reads the book and its drafts, each document once; then one batch per processor store.
        book, index_ms = await self._read_book(user_id, book_id, budget, request_id)
        await self.directory.refresh(request_id=request_id)
        chain, book_level = self._wanted(include)
        results = await self._fan_out(self._pieces_wanted(book, chain, book_level), user_id, budget, request_id)
        sources, errors = self._reports(results)
        sources = {"index": SourceStatus(status=OK, ms=round(index_ms, 1), count=len(book.chapters)), **sources}
        trouble = _Trouble()
        chapters = await self._chapters(book, chain, results, trouble, include=include, expanded=expanded)
        errors += trouble.errors(self.pending_grace)
        outputs = self._outputs(book, book_level, results, errors)
        compiler = next(iter(p for p in self.directory.producing(self.compiled_schema) if p in book_level), None)
        compiled, compiled_status = self._compiled(book, compiler, outputs, results, errors)
        return BookView(
            book=BookRef(
                id=book.book_id,
                title=book.title,
                description=book.description,
                words=book.words,
                ai_words=book.ai_words,
            ),
            chapters=chapters,
            compiled=compiled,
            compiled_status=compiled_status,
            sources=sources,
            errors=errors,
            compile_failure=msgspec.to_builtins(book.compile_failure) if book.compile_failure else None,
            outputs=outputs,
            codex=[msgspec.to_builtins(entry) for entry in book.codex or []],
        )

    async def _read_book(self, user_id: str, book_id: str, budget: Budget, request_id: str) -> tuple[BookState, float]:
        """The book, its chapters and their drafts, from the index; and how long it took (ms)."""
        started = time.perf_counter()
        payload = await self._index_json(
            url_path("api", "v1", "users", user_id, "books", book_id), budget, request_id, params={"include": "drafts"}
        )
        return msgspec.json.decode(payload, type=BookState), (time.perf_counter() - started) * 1000

    @staticmethod
    def _pieces_wanted(book: BookState, chain: list[str], book_level: list[str]) -> dict[str, list[str]]:
        """The ids to ask each processor's store for: its pieces of the chapters, or of the book."""
        wanted: dict[str, list[str]] = {}
        for state in book.chapters:
            for processor in chain:
                if processor in state.derived:
                    wanted.setdefault(processor, []).append(state.derived[processor].id)
        for processor in book_level:
            if processor in book.outputs:
                wanted.setdefault(processor, []).append(book.outputs[processor].id)
        return wanted

    async def _chapters(
        self,
        book: BookState,
        chain: list[str],
        results: dict[str, SourceResult],
        trouble: _Trouble,
        *,
        include: frozenset[str] | None,
        expanded: bool,
    ) -> list[ChapterView]:
        """Each chapter with its draft and every processor's piece; the expansion's status is the chapter's."""
        drafts = {d.id: msgspec.to_builtins(d) for d in book.drafts or []}
        expander = next(iter(p for p in self.directory.producing(self.expansion_schema) if p in chain), None)
        chapters = []
        for state in book.chapters:
            draft = drafts.get(state.draft_blob_id)
            derived, pieces = await self._chapter_derived(state, draft, chain, results, trouble)
            for processor, made in state.derived.items():
                if processor in self.directory.retired and (include is None or processor in include):
                    derived[processor] = DerivedView(
                        id=made.id, processor=processor, schema_id=made.schema_id, status=RETIRED
                    )
            first = derived.get(expander) if expander else None
            chapters.append(
                ChapterView(
                    chapter=state.chapter,
                    title=state.title,
                    draft=draft,
                    draft_status=OK if draft is not None else MISSING,
                    expanded=(pieces.get(expander) if expander else None) if expanded else msgspec.UNSET,
                    status=first.status if first else OK,
                    reason=first.reason if first else None,
                    derived=derived,
                    words=state.words,
                    ai_words=state.ai_words,
                )
            )
        return chapters

    def _outputs(
        self, book: BookState, book_level: list[str], results: dict[str, SourceResult], errors: list[ViewError]
    ) -> dict[str, DerivedView]:
        """What the book-level processors made of the whole book (one asked of nothing yet is left out)."""
        outputs: dict[str, DerivedView] = {}
        for processor in book_level:
            ref = book.outputs.get(processor)
            if ref is None:
                continue  # nothing asked of it yet: a book is compiled on request
            piece, status = self._piece(results.get(processor), ref.id)
            if status == MISSING:
                errors.append(
                    ViewError(
                        source=processor,
                        status=MISSING,
                        detail="the book's output is gone from its store",
                        ids=[ref.id],
                    )
                )
            outputs[processor] = DerivedView(
                id=ref.id,
                processor=processor,
                schema_id=ref.schema_id,
                status=status,
                data=piece.get("data") if piece else None,
                preview=str(piece.get("preview") or "") if piece else "",
            )
        return outputs

    def _compiled(
        self,
        book: BookState,
        compiler: str | None,
        outputs: dict[str, DerivedView],
        results: dict[str, SourceResult],
        errors: list[ViewError],
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The compiled book and its status; a compile the compiler gave up on is an error of the view."""
        compiled, compiled_status = (None, None)
        if compiler and compiler in outputs:
            compiled, _ = self._piece(results.get(compiler), book.outputs[compiler].id)
            compiled_status = outputs[compiler].status
        if book.compile_failure is not None:
            errors.append(
                ViewError(source=book.compile_failure.processor, status=FAILED, detail=book.compile_failure.reason)
            )
            if compiled is None and compiler is not None:
                compiled_status = FAILED
        return compiled, compiled_status

    async def _chapter_derived(
        self,
        state: ChapterState,
        draft: dict[str, Any] | None,
        chain: list[str],
        results: dict[str, SourceResult],
        trouble: _Trouble,
    ) -> tuple[dict[str, DerivedView], dict[str, dict[str, Any]]]:
        """Each processor's piece of one chapter, upstream first: a level is `stale` while the blob it
        was made from is not the current one above it (or, at the first level, the draft's version)."""
        views: dict[str, DerivedView] = {}
        pieces: dict[str, dict[str, Any]] = {}
        current = {state.draft_blob_id}  # the blobs of this chapter that are up to date, level by level
        version = draft["version"] if draft is not None else 0
        for processor in chain:
            ref = state.derived.get(processor)
            registration = self.directory.registrations.get(processor)
            piece: dict[str, Any] | None = None
            changed: list[InputChanged] = []
            if ref is None:
                status = PENDING
            else:
                piece, status = self._piece(results.get(processor), ref.id)
                if status == OK and piece is not None:
                    pieces[processor] = piece
                    if ref.depth == 1 and (piece.get("source_version") or 0) < version:
                        status = STALE
                    elif ref.depth > 1 and ref.parent_id not in current:
                        status = STALE
                    elif ref.inputs_changed:  # its parent is current, but an entry it read is not
                        status, changed = STALE, ref.inputs_changed
                if status == MISSING:
                    trouble.missing.setdefault(processor, []).append(ref.id)
                    if draft is not None and ref.depth == 1:
                        await self.repair(processor, draft, ref.id)
            reason = reason_of(changed) if changed else None
            failure = _failure_of(state.failures, processor, state.draft_blob_id, version, current)
            if failure is not None and status in (PENDING, STALE):
                # The processor gave up on the current input (resolved once it makes it after all).
                status, reason = FAILED, failure.reason
                trouble.failed.append(
                    ViewError(source=processor, status=FAILED, detail=failure.reason, ids=[state.draft_blob_id])
                )
            elif (
                status in (PENDING, STALE)
                and draft is not None
                and (ref is None or ref.depth == 1)
                and self._overdue(draft)
            ):
                if processor in self.directory.consuming(str(draft.get("schema_id"))):
                    # Nothing came of this version for a while: the request may have been lost. Ask again.
                    trouble.overdue.setdefault(processor, []).append(state.draft_blob_id)
                    await self.repair(processor, draft, f"pending-{state.draft_blob_id}")
            if status == OK and ref is not None:
                current.add(ref.id)
            views[processor] = DerivedView(
                id=ref.id if ref else None,
                processor=processor,
                schema_id=ref.schema_id if ref else (registration.output_schema_id if registration else None),
                preview=str(piece.get("preview") or "") if piece else "",
                data=with_stale_sections(piece["data"], changed) if piece and changed else _data_of(piece),
                status=status,
                reason=reason,
            )
        return views, pieces

    def _overdue(self, draft: dict[str, Any]) -> bool:
        try:
            written = datetime.fromisoformat(str(draft["updated_at"]))
        except (KeyError, ValueError):
            return False
        return (datetime.now(UTC) - written).total_seconds() > self.pending_grace

    @staticmethod
    def _piece(result: SourceResult | None, blob_id: str) -> tuple[dict[str, Any] | None, str]:
        if result is None or result.status != OK:
            return None, UNAVAILABLE
        found = result.blobs.get(blob_id)
        return (found, OK) if found is not None else (None, MISSING)

    def _chain_plan(self, schema_id: str) -> list[tuple[str, bool, set[str]]]:
        """For each per-blob processor down the chains from `schema_id`: whether it consumes that
        schema directly, and which processors make what it consumes."""
        direct = set(self.directory.consuming(schema_id))
        return [
            (
                p,
                p in direct,
                {f for s in self.directory.registrations[p].input_schema_ids for f in self.directory.producing(s)},
            )
            for p in self.directory.chain(schema_id)
        ]

    @staticmethod
    def _waiting_on(plan: list[tuple[str, bool, set[str]]], made_by: set[str]) -> list[str]:
        """The processors a blob waits on: every direct consumer, and one down a chain once the
        level above it has made something."""
        return [p for p, direct, feeders in plan if direct or feeders & made_by]

    async def blob_list(self, user_id: str, params: dict[str, str], request_id: str) -> BlobListView:
        budget = self.budget()
        started = time.perf_counter()
        payload = await self._index_json(
            url_path("api", "v1", "users", user_id, "blobs"), budget, request_id, params=params
        )
        listing = msgspec.json.decode(payload, type=BlobList)
        index_ms = (time.perf_counter() - started) * 1000
        await self.directory.refresh(request_id=request_id)
        wanted: dict[str, list[str]] = {}
        for blob in listing.blobs:
            for summary in blob.derived:
                wanted.setdefault(summary.processor, []).append(summary.id)
        results = await self._fan_out(wanted, user_id, budget, request_id)
        sources, errors = self._reports(results)
        sources = {"index": SourceStatus(status=OK, ms=round(index_ms, 1), count=len(listing.blobs)), **sources}
        plans = {schema: self._chain_plan(schema) for schema in {b.schema_id for b in listing.blobs}}
        items = []
        for blob in listing.blobs:
            derived = []
            for summary in blob.derived:
                data, status = self._piece(results.get(summary.processor), summary.id)
                if status == OK and summary.status == STALE:
                    status = STALE
                derived.append(
                    DerivedView(
                        id=summary.id,
                        processor=summary.processor,
                        schema_id=summary.schema_id,
                        preview=summary.preview,
                        data=data.get("data") if data else None,
                        status=status,
                    )
                )
            made_by = {d.processor for d in derived}
            failures = {f.processor: f for f in blob.failures if (f.source_version or 0) >= blob.version}
            for view in derived:
                if view.processor in failures and view.status == STALE:
                    view.status, view.reason = FAILED, failures[view.processor].reason
            derived += [
                DerivedView(id=None, processor=p, status=FAILED, reason=failures[p].reason)
                if p in failures
                else DerivedView(id=None, processor=p, status=PENDING)
                for p in self._waiting_on(plans[blob.schema_id], made_by)
                if p not in made_by
            ]
            items.append(
                BlobListItem(
                    id=blob.id,
                    type=blob.type,
                    schema_id=blob.schema_id,
                    version=blob.version,
                    data=blob.data,
                    book_id=blob.book_id,
                    chapter=blob.chapter,
                    derived=derived,
                )
            )
        return BlobListView(blobs=items, next_cursor=listing.next_cursor, sources=sources, errors=errors)


def _data_of(piece: dict[str, Any] | None) -> dict[str, Any] | None:
    return piece.get("data") if piece else None
