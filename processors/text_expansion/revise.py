"""A section of an expansion discarded, or written again on its own with the writer's instruction.

Both make the expansion's next version under the same id (it is still made from the same draft
version) and register it again, so the index announces `blob.updated` and views show it. A
regeneration is answered at once and written in the background, its text streamed as
`blob.progress` for that section alone; if the process stops meanwhile nothing was promised but
the attempt: the section keeps its old text and can be asked for again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from nats.js import JetStreamContext

from contracts.models import CODEX_SCHEMA
from contracts.processors import DerivedBlob, InputUsed, RevisedSection
from processors.runtime.errors import DerivedNotFound, PermanentError
from processors.runtime.handler import register_request
from processors.runtime.index_client import IndexClient
from processors.runtime.progress import Derivation, StreamProgress
from servicekit.errors import Conflict

from .context import Codex, entry_of
from .expander import SectionedExpander
from .sections import Section, first_words, last_words, stitch
from .store import ExpandedTextStore

log = logging.getLogger(__name__)
DISCARDED = "discarded"


class DraftMovedOn(Conflict):
    code, title = "draft-moved-on", "The draft changed since this expansion was made; its next one is on the way"


def _find(blob: DerivedBlob, section_id: str) -> tuple[list[dict[str, Any]], int]:
    sections = [dict(s) for s in blob.data.get("sections") or [] if isinstance(s, dict)]
    for i, section in enumerate(sections):
        if section.get("id") == section_id:
            return sections, i
    raise DerivedNotFound(f"expansion {blob.id} has no section {section_id}")


def restitched(blob: DerivedBlob, sections: list[dict[str, Any]]) -> DerivedBlob:
    """The expansion's next version with `sections`: a discarded one stands as the draft's own text."""
    text = stitch([str(s.get("original") if s.get("status") == DISCARDED else s.get("text")) for s in sections])
    used = {(u["entry_id"], u["entry_version"]) for s in sections for u in s.get("receipt") or []}
    return msgspec.structs.replace(
        blob,
        data={**blob.data, "sections": sections, "expanded": text},
        preview=text[:200],
        version=blob.version + 1,
        inputs=[InputUsed(blob_id=i, version=v) for i, v in sorted(used)],
    )


class Revisions:
    """Discards and regenerations of text expansion's sections; regenerations run as tasks of their own."""

    def __init__(self, store: ExpandedTextStore, expander: SectionedExpander, *, context_tokens: int) -> None:
        self.store = store
        self.expander = expander
        self.context_tokens = context_tokens
        self._running: set[asyncio.Task[None]] = set()

    async def _blob(self, user_id: str, blob_id: str) -> DerivedBlob:
        blob = await self.store.get(user_id, blob_id)
        if blob is None:
            raise DerivedNotFound(f"no blob {blob_id}")
        return blob

    async def _save(self, index: IndexClient, blob: DerivedBlob) -> None:
        await self.store.upsert(blob)
        entry = await index.register(
            register_request(blob.processor_id, blob.schema_id, self.store.storage_location, blob)
        )
        if entry is None:
            raise PermanentError(f"the draft of {blob.id} is gone")

    async def discard(self, index: IndexClient, user_id: str, blob_id: str, section_id: str) -> RevisedSection:
        blob = await self._blob(user_id, blob_id)
        sections, i = _find(blob, section_id)
        sections[i] = {**sections[i], "status": DISCARDED}
        made = restitched(blob, sections)
        await self._save(index, made)
        return RevisedSection(blob_id=blob_id, section=sections[i], version=made.version)

    async def regenerate(
        self,
        index: IndexClient,
        js: JetStreamContext,
        user_id: str,
        blob_id: str,
        section_id: str,
        instruction: str | None,
    ) -> RevisedSection:
        """Check what can be checked now, start the writing, and answer."""
        blob = await self._blob(user_id, blob_id)
        sections, i = _find(blob, section_id)
        draft = await index.source(user_id, blob.parent_blob_id or "")
        if draft is None:
            raise DerivedNotFound(f"the draft of {blob_id} is gone")
        if draft.version != blob.source_version:
            raise DraftMovedOn(
                f"the draft is at version {draft.version}; this expansion was made from {blob.source_version}"
            )
        reads = await index.reads(user_id, CODEX_SCHEMA, draft.book_id)
        task = asyncio.create_task(self._rewrite(index, js, blob, i, instruction or "", reads, draft.chapter))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return RevisedSection(
            blob_id=blob_id, section={**sections[i], "status": "regenerating"}, version=blob.version + 1
        )

    async def _rewrite(
        self,
        index: IndexClient,
        js: JetStreamContext,
        blob: DerivedBlob,
        i: int,
        instruction: str,
        reads: tuple[Any, ...],
        chapter: int | None,
    ) -> None:
        sections, _ = _find(blob, str(blob.data["sections"][i]["id"]))
        old = sections[i]
        paragraph = int((old.get("source") or {}).get("paragraphs", [1])[0])
        entries = [e for e in (entry_of(r.id, r.version, r.data) for r in reads) if e is not None]
        near = [
            (int((s.get("source") or {}).get("paragraphs", [1])[0]), str(s.get("original") or ""))
            for s in sections[max(0, i - 1) : i + 2]
        ]
        chosen = Codex(entries).chosen(near, chapter=chapter, budget=self.context_tokens)
        section = Section(
            index=i,
            text=str(old.get("original") or ""),
            before=last_words(str(sections[i - 1].get("original") or "")) if i > 0 else "",
            after=first_words(str(sections[i + 1].get("original") or "")) if i + 1 < len(sections) else "",
            paragraph=paragraph,
            notes=tuple(note for _, note in chosen),
            instruction=instruction,
        )
        derivation = Derivation(
            blob.user_id,
            blob.parent_blob_id or "",
            blob.source_version or 0,
            blob.id,
            blob.processor_id,
            blob.version + 1,
        )
        progress = StreamProgress(js, derivation)
        progress.begin(len(sections))
        try:
            written = await self.expander.rewrite(
                section, str(blob.data.get("style") or "creative"), progress, total=len(sections)
            )
        except Exception as exc:  # the section keeps its text; the writer may ask again
            log.warning("regenerating section %s of %s failed: %s", old.get("id"), blob.id, exc)
            return
        finally:
            await progress.close()
        current = await self.store.get(blob.user_id, blob.id)
        if current is None:
            return  # the draft moved on meanwhile and its old expansion went
        sections, i = _find(current, str(old["id"]))
        receipt = [
            {"entry_id": u.entry_id, "entry_version": u.entry_version, "name": u.name, "why": u.why, "tokens": u.tokens}
            for u, _ in chosen
        ]
        sections[i] = {
            **sections[i],
            "text": written.text.strip(),
            "model": written.model_used,
            "receipt": receipt,
            "status": "ok",
            **({"instruction": instruction} if instruction else {}),
        }
        if not instruction:
            sections[i].pop("instruction", None)
        await self._save(index, restitched(current, sections))

    async def close(self) -> None:
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
