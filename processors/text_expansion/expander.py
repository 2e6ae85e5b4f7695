"""A draft expanded section by section, several at once, each section retried on its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from processors.runtime.errors import ProviderGaveUp
from processors.runtime.progress import NoProgress, Progress
from servicekit.retry import MODEL, retrying
from servicekit.settings import setting

from .context import Used
from .gate import NewestFirst
from .sections import Section, split, stitch
from .style import words
from .writers import SectionFailed, SectionWriter, Written

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """One section of an expansion: what it was made from, its text, and whether it was reused."""

    section: Section
    key: str
    written: Written
    reused: bool
    receipt: tuple[Used, ...] = ()  # the story-bible entries its prompt carried, and why
    kept: bool = False  # text the model wrote before and the writer kept: it stands as it is


@dataclass(frozen=True)
class Expansion:
    text: str
    model_used: str
    tokens_used: int
    sections: int = 1
    parts: tuple[Part, ...] = ()

    @property
    def reused(self) -> int:
        return sum(p.reused for p in self.parts)


# A section and its neighbours as (paragraph number, text) -> the entries chosen, each with its prompt line.
Choose = Callable[[Sequence[tuple[int, str]]], list[tuple[Used, str]]]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """How a draft is cut, how much runs at once, how often a section is tried."""

    section_words: int = setting(
        "STUDIO_TEXT_EXPANSION_SECTION_WORDS",
        32,
        "a longer paragraph is cut between sentences into sections of about this many words",
        minimum=5,
        maximum=10_000,
    )
    per_draft: int = setting(
        "STUDIO_TEXT_EXPANSION_SECTIONS_PER_DRAFT", 64, "sections of one draft written at once", minimum=1, maximum=256
    )
    shared: int = setting(
        "STUDIO_TEXT_EXPANSION_SECTIONS_AT_ONCE",
        128,
        "sections written at once by an instance, all drafts together (the newest draft first)",
        minimum=1,
        maximum=4096,
    )
    attempts: int = setting(
        "STUDIO_TEXT_EXPANSION_SECTION_ATTEMPTS",
        4,
        "tries of a section (the only retries of a model call) before the message is given up",
        minimum=1,
        maximum=20,
    )
    max_retry_after: float = setting(
        "STUDIO_TEXT_EXPANSION_MAX_RETRY_AFTER_SECONDS",
        60.0,
        "the longest a 429's Retry-After is waited for",
        minimum=0.0,
        unit="s",
    )


class SectionedExpander:
    """Cuts, writes the sections concurrently within both limits, stitches them in order."""

    def __init__(self, writer: SectionWriter, limits: Limits) -> None:
        self.writer = writer
        self.limits = limits
        self._shared = NewestFirst(limits.shared)
        self.retried = 0  # section tries that failed and were made again

    async def expand(
        self,
        text: str,
        style: str,
        progress: Progress | None = None,
        *,
        reuse: Callable[[str], Written | None] | None = None,
        remember: Callable[[str, Written], None] | None = None,
        choose: Choose | None = None,
        as_is: Callable[[Section], bool] | None = None,
    ) -> Expansion:
        """The draft expanded. A section `reuse` knows by its key (the same text, style, model and
        story-bible entries, written before) is not written again: its text is told at once. Each
        section written is handed to `remember` as soon as it is done, even if the draft is then
        cancelled. `choose` picks each section's story-bible entries from it and its neighbours; a
        section `as_is` accepts (prose the writer kept from an earlier expansion) is not expanded again."""
        sections = split(text, self.limits.section_words)
        receipts: list[tuple[Used, ...]] = [()] * len(sections)
        if choose is not None:
            for i, section in enumerate(sections):
                near = sections[max(0, i - 1) : i + 2]
                chosen = choose([(s.paragraph, s.text) for s in near])
                receipts[i] = tuple(used for used, _ in chosen)
                sections[i] = replace(section, notes=tuple(note for _, note in chosen))
        keys = [
            s.key(self.writer.model, style, ";".join(f"{u.entry_id}@{u.entry_version}" for u in receipt))
            for s, receipt in zip(sections, receipts, strict=True)
        ]
        known = {k: found for k in set(keys) if reuse is not None and (found := reuse(k)) is not None}
        told = progress if progress is not None else NoProgress()
        told.begin(len(sections))
        per_draft = asyncio.Semaphore(self.limits.per_draft)
        ticket = self._shared.ticket()  # this draft's sections wait behind newer drafts', ahead of older ones

        async def part(section: Section, key: str, receipt: tuple[Used, ...]) -> Part:
            if as_is is not None and as_is(section):
                told.delta(section.index, section.text)
                told.done(section.index)
                return Part(section, key, Written(text=section.text, model_used="", tokens_used=0), True, (), kept=True)
            if key in known:
                told.delta(section.index, known[key].text)
                told.done(section.index)
                return Part(section, key, known[key], reused=True, receipt=receipt)
            written = await self._section(section, style, told, per_draft, ticket, len(sections))
            if remember is not None:
                remember(key, written)
            return Part(section, key, written, reused=False, receipt=receipt)

        tasks = [asyncio.create_task(part(s, k, r)) for s, k, r in zip(sections, keys, receipts, strict=True)]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException:
            # One section gave up, or the whole draft is cancelled: none of the others is needed.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        fresh = [p.written for p in parts if not p.reused]
        models = [w.model_used for w in fresh or [p.written for p in parts] if w.model_used]
        return Expansion(
            text=stitch([p.written.text for p in parts]),
            model_used=models[0] if models else "",
            tokens_used=sum(w.tokens_used for w in fresh),
            sections=len(sections),
            parts=tuple(parts),
        )

    async def _section(
        self, section: Section, style: str, progress: Progress, per_draft: asyncio.Semaphore, ticket: int, total: int
    ) -> Written:
        """One section, tried again on its own by the MODEL policy: the one layer that calls the
        model again (the client's own retries are off, and a section that gives up gives up the
        message: JetStream does not deliver it again for that)."""
        policy = MODEL.with_attempts(self.limits.attempts).asking_at_most(self.limits.max_retry_after)
        told_any = False

        def emit(delta: str) -> None:
            nonlocal told_any
            told_any = True
            progress.delta(section.index, delta)

        async def attempt() -> Written:
            async with per_draft, self._shared.place(ticket):
                written = await self.writer.write(section, style, emit)
            if len(words(written.text)) < len(words(section.text)):
                raise SectionFailed("the model returned less text than the section")
            return written

        def again(exc: Exception, failures: int, wait: float) -> None:
            nonlocal told_any
            self.retried += 1
            log.warning(
                "section %d of %d, try %d of %d: %s; again in %.2fs",
                section.index + 1,
                total,
                failures,
                policy.attempts,
                exc,
                wait,
            )
            if told_any:
                progress.restart(section.index)
                told_any = False

        try:
            written = await retrying(
                policy,
                attempt,
                retry_if=lambda exc: isinstance(exc, SectionFailed),
                asked_wait=lambda exc: exc.retry_after if isinstance(exc, SectionFailed) else None,
                before_retry=again,
            )
        except SectionFailed as exc:
            raise ProviderGaveUp(
                f"section {section.index + 1} of {total} failed {policy.attempts} times: {exc}"
            ) from exc
        progress.done(section.index)
        return written

    async def rewrite(self, section: Section, style: str, progress: Progress, *, total: int) -> Written:
        """One section written again (never reused), its text told on `progress`, as a new draft's would be."""
        return await self._section(section, style, progress, asyncio.Semaphore(1), self._shared.ticket(), total)

    async def close(self) -> None:
        await self.writer.close()
