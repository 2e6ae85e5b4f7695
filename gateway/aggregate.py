"""Gathering a book or a list of blobs from the stores that hold its pieces.

Read the index once, group the ids by the store that holds them, make one batch call per store,
all at once, each with its own deadline inside the request's budget, and merge. A store that is
slow, down or behind an open circuit costs at most its deadline: its pieces are `unavailable` and
the answer is still a 200. Only when the index cannot answer is the request an error.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from contracts.models import BlobList, BookState, FailureSummary
from contracts.views import (
    FAILED,
    MISSING,
    OK,
    PENDING,
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

from servicekit.urls import UrlPath, url_path

from .errors import IndexUnavailable, Overloaded, UpstreamProblem, ViewNotFound
from .limiter import Shed
from .registry import Directory
from .sources import SHED, Source, SourceFailed, SourceResult

Repair = Callable[[str, dict[str, Any], str], Awaitable[None]]  # (processor, parent blob, derived id)


@dataclass(frozen=True)
class Budget:
    """Until when (time.monotonic) a request's calls may wait for a slot at their source."""

    deadline: float


def _failure_of(failures: list[FailureSummary], processor: str | None, draft: dict[str, Any] | None) -> FailureSummary | None:
    """The processor's failure on this draft's current version (an older version's no longer counts)."""
    if processor is None:
        return None
    version = draft["version"] if draft is not None else 0
    found = [f for f in failures if f.processor == processor and (f.source_version or 0) >= version]
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

    async def _index_json(self, path: UrlPath, budget: Budget, request_id: str, params: dict[str, str] | None = None) -> bytes:
        try:
            status, payload = await self.index.request("GET", path, request_id=request_id, deadline=budget.deadline, params=params)
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

    async def _fan_out(self, wanted: dict[str, list[str]], user_id: str, budget: Budget, request_id: str) -> dict[str, SourceResult]:
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
            raise Overloaded(shed[0].error or "a store is at its limit", retry_after=max(r.retry_after or 1.0 for r in shed))
        return dict(zip(names, results))

    @staticmethod
    def _reports(results: dict[str, SourceResult]) -> tuple[dict[str, SourceStatus], list[ViewError]]:
        sources = {n: SourceStatus(status=r.status, ms=round(r.ms, 1), count=len(r.blobs)) for n, r in results.items()}
        errors = [ViewError(source=n, status=UNAVAILABLE, detail=r.error or "unavailable") for n, r in results.items() if r.status != OK]
        return sources, errors

    def _at_the_door(self, budget: Budget, processors: list[str | None]) -> None:
        """Shed now, before any work, when a store this view needs could not be reached within the
        budget anyway: a lookup made for a view that is then shed is work thrown away."""
        remaining = budget.deadline - time.monotonic()
        sources = [self.index, *(self.directory.sources[p] for p in processors if p in self.directory.sources)]
        for source in sources:
            wait = source.limit.expected_wait()
            if wait > remaining:
                source.count_shed()
                raise Overloaded(f"{source.name} is at its concurrency limit", retry_after=max(1.0, wait))

    async def book_view(self, user_id: str, book_id: str, request_id: str) -> BookView:
        budget = self.budget()
        self._at_the_door(budget, [*self.directory.producing(self.expansion_schema)[:1], *self.directory.producing(self.compiled_schema)[:1]])
        started = time.perf_counter()
        # One call reads the book and its drafts, each document once; then one batch per processor store.
        payload = await self._index_json(
            url_path("api", "v1", "users", user_id, "books", book_id), budget, request_id, params={"include": "drafts"}
        )
        book = msgspec.json.decode(payload, type=BookState)
        index_ms = (time.perf_counter() - started) * 1000
        drafts = SourceResult("index", OK, index_ms, blobs={d.id: msgspec.to_builtins(d) for d in book.drafts or []})
        await self.directory.refresh(request_id=request_id)
        expander = next(iter(self.directory.producing(self.expansion_schema)), None)
        compiler = next(iter(self.directory.producing(self.compiled_schema)), None)
        wanted: dict[str, list[str]] = {}
        if expander:
            wanted[expander] = [c.processed_blob_ids[expander] for c in book.chapters if expander in c.processed_blob_ids]
        if compiler and book.compiled_blob_id:
            wanted.setdefault(compiler, []).append(book.compiled_blob_id)
        results = await self._fan_out(wanted, user_id, budget, request_id)
        sources, errors = self._reports(results)
        sources = {"index": SourceStatus(status=OK, ms=round(index_ms, 1), count=len(book.chapters)), **sources}
        expansions = results.get(expander) if expander else None
        consumers = set(self.directory.consuming("text-input-v1"))
        chapters = []
        missing_expansions: list[str] = []
        overdue: list[str] = []
        failed: list[ViewError] = []
        for state in book.chapters:
            draft, draft_status = self._piece(drafts, state.draft_blob_id)
            expanded: dict[str, Any] | None = None
            reason: str | None = None
            derived_id = state.processed_blob_ids.get(expander) if expander else None
            failure = _failure_of(state.failures, expander, draft)
            if derived_id is None:
                status = PENDING if expander in consumers else OK
            else:
                expanded, status = self._piece(expansions, derived_id)
                if status == MISSING:
                    missing_expansions.append(derived_id)
                    if draft is not None and expander is not None:
                        await self.repair(expander, draft, derived_id)
                elif expanded is not None and draft is not None and (expanded.get("source_version") or 0) < draft["version"]:
                    status = STALE
            if failure is not None and status in (PENDING, STALE):
                # The processor gave up on the current version (resolved once it makes it after all).
                status, reason = FAILED, failure.reason
                failed.append(ViewError(source=failure.processor, status=FAILED, detail=failure.reason, ids=[state.draft_blob_id]))
            elif status in (PENDING, STALE) and draft is not None and expander is not None and self._overdue(draft):
                # Nothing came of this version for a while: the request may have been lost (say,
                # with a half-done delete before this release). Ask the processor again.
                overdue.append(state.draft_blob_id)
                await self.repair(expander, draft, f"pending-{state.draft_blob_id}")
            chapters.append(
                ChapterView(
                    chapter=state.chapter, title=state.title, draft=draft, draft_status=draft_status,
                    expanded=expanded, status=status, reason=reason,
                )  # fmt: skip
            )
        errors += failed
        if overdue and expander:
            errors.append(ViewError(source=expander, status=PENDING, detail=f"no current output after {self.pending_grace:g} s; requested again", ids=overdue))
        if missing_expansions and expander:
            errors.append(ViewError(source=expander, status=MISSING, detail="the index points at blobs this store does not have; repair requested", ids=missing_expansions))
        compiled, compiled_status = (None, None)
        if compiler and book.compiled_blob_id:
            compiled, compiled_status = self._piece(results.get(compiler), book.compiled_blob_id)
            if compiled_status == MISSING:
                errors.append(ViewError(source=compiler, status=MISSING, detail="the compiled book is gone from its store", ids=[book.compiled_blob_id]))
        compile_failure = msgspec.to_builtins(book.compile_failure) if book.compile_failure else None
        if book.compile_failure is not None:
            errors.append(ViewError(source=book.compile_failure.processor, status=FAILED, detail=book.compile_failure.reason))
            if compiled is None:
                compiled_status = FAILED
        return BookView(
            book=BookRef(id=book.book_id, title=book.title, description=book.description),
            chapters=chapters, compiled=compiled, compiled_status=compiled_status, sources=sources, errors=errors,
            compile_failure=compile_failure,
        )  # fmt: skip

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

    async def blob_list(self, user_id: str, params: dict[str, str], request_id: str) -> BlobListView:
        budget = self.budget()
        started = time.perf_counter()
        payload = await self._index_json(url_path("api", "v1", "users", user_id, "blobs"), budget, request_id, params=params)
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
        items = []
        for blob in listing.blobs:
            derived = []
            for summary in blob.derived:
                data, status = self._piece(results.get(summary.processor), summary.id)
                if status == OK and summary.status == STALE:
                    status = STALE
                derived.append(
                    DerivedView(
                        id=summary.id, processor=summary.processor, schema_id=summary.schema_id,
                        preview=summary.preview, data=data.get("data") if data else None, status=status,
                    )  # fmt: skip
                )
            made_by = {d.processor for d in derived}
            failures = {f.processor: f for f in blob.failures if (f.source_version or 0) >= blob.version}
            for view in derived:
                if view.processor in failures and view.status == STALE:
                    view.status, view.reason = FAILED, failures[view.processor].reason
            derived += [
                DerivedView(id=None, processor=p, status=FAILED, reason=failures[p].reason) if p in failures
                else DerivedView(id=None, processor=p, status=PENDING)
                for p in self.directory.consuming(blob.schema_id) if p not in made_by
            ]  # fmt: skip
            items.append(
                BlobListItem(
                    id=blob.id, type=blob.type, schema_id=blob.schema_id, version=blob.version, data=blob.data,
                    book_id=blob.book_id, chapter=blob.chapter, derived=derived,
                )  # fmt: skip
            )
        return BlobListView(blobs=items, next_cursor=listing.next_cursor, sources=sources, errors=errors)
