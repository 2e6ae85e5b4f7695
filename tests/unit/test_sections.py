"""Streamed expansion's pure parts: cutting a draft, writing sections within limits, retrying one,
joining progress for a late reader and for a socket that is behind, cancelling superseded work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.live.hub import Hub
from gateway.live.progress import Partial
from gateway.metrics import GatewayMetrics
from processors.llm import LLMSettings
from processors.runtime.errors import PermanentError, ProviderGaveUp, Superseded
from processors.runtime.inflight import InFlight
from processors.text_expansion.expander import Limits, SectionedExpander
from processors.text_expansion.sections import Section, split, stitch
from processors.text_expansion.writers import SectionFailed, Written, retry_after, sentence_pieces

LONG = " ".join(
    f"Sentence {n} walks along the harbour wall." for n in range(1, 13)
)  # 12 sentences of 6 words (digits are not words)


def test_paragraphs_are_sections_and_long_ones_are_cut_between_sentences() -> None:
    text = f"A short opening.\n\n{LONG}\n\n  \n\nThe end."
    sections = split(text, max_words=20)
    assert [s.index for s in sections] == list(range(len(sections)))
    assert sections[0].text == "A short opening." and sections[-1].text == "The end."
    middle = sections[1:-1]
    assert len(middle) == 4 and all(
        s.text.count("Sentence") == 3 for s in middle
    )  # 18 words each: a fourth would pass 20
    assert " ".join(s.text for s in middle) == LONG
    assert sections[1].before == "A short opening." and sections[1].after.startswith("Sentence 4 walks")
    assert sections[0].before == "" and sections[-1].after == ""


def test_a_sentence_longer_than_the_limit_stays_whole_and_context_is_bounded() -> None:
    giant = " ".join(["word"] * 100) + "."
    (only,) = split(giant, max_words=10)
    assert only.text == giant
    first, second = split(giant + "\n\n" + giant, max_words=10)
    assert first.after.endswith("...") and len(first.after.split()) == 41 and second.before.startswith("...")


def test_sentence_pieces_rejoin_to_the_text() -> None:
    text = 'She ran. "Why?" he asked!  Nobody knew...\n\nThe end'
    pieces = sentence_pieces(text)
    assert "".join(pieces) == text and len(pieces) == 5


def test_stitch_puts_a_blank_line_between_stripped_sections() -> None:
    assert stitch([" One. ", "Two.\n"]) == "One.\n\nTwo."


def test_retry_after_takes_seconds_or_a_date() -> None:
    assert retry_after(SimpleNamespace(headers={"retry-after": "1.5"})) == 1.5
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after(SimpleNamespace(headers={"retry-after": later})) or 0) <= 30
    assert retry_after(SimpleNamespace(headers={})) is None and retry_after(None) is None
    assert retry_after(SimpleNamespace(headers={"retry-after": "soon"})) is None


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def begin(self, sections: int) -> None:
        self.events.append(("begin", sections))

    def delta(self, section: int, text: str) -> None:
        self.events.append(("delta", section, text))

    def restart(self, section: int) -> None:
        self.events.append(("restart", section))

    def done(self, section: int) -> None:
        self.events.append(("done", section))

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


class Writer:
    """Writes each section three times over, a word at a time; can fail chosen tries."""

    model = "test-model"

    def __init__(self, *, fail: dict[int, int] | None = None, forever: set[int] | None = None) -> None:
        self.fail = dict(fail or {})
        self.forever = forever or set()
        self.now = 0
        self.most = 0
        self.tries: dict[int, int] = {}
        self.cancelled = 0

    async def write(self, section: Section, style: str, emit: Any) -> Written:
        self.tries[section.index] = self.tries.get(section.index, 0) + 1
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            text = " ".join([section.text] * 3)
            for number, word in enumerate(text.split(" ")):
                await asyncio.sleep(0.001)
                emit(word + " ")
                if number == 2 and (section.index in self.forever or self.fail.get(section.index, 0) > 0):
                    self.fail[section.index] = self.fail.get(section.index, 0) - 1
                    raise SectionFailed("the stream broke", retry_after=0.0)
            return Written(text=text, model_used="m", tokens_used=3)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.now -= 1

    async def close(self) -> None:
        return None


DRAFT = "\n\n".join(f"Paragraph {n} has five words." for n in range(10))


async def test_sections_run_within_the_per_draft_limit_and_join_in_order() -> None:
    writer = Writer()
    recorder = Recorder()
    made = await SectionedExpander(writer, Limits(per_draft=3)).expand(DRAFT, "creative", recorder)
    assert writer.most == 3 and made.sections == 10 and made.tokens_used == 30
    assert made.text == stitch([" ".join([f"Paragraph {n} has five words."] * 3) for n in range(10)])
    assert recorder.events[0] == ("begin", 10) and sorted(e[1] for e in recorder.events if e[0] == "done") == list(
        range(10)
    )


async def test_sections_written_before_are_reused_and_told_at_once() -> None:
    """An autosave changes a paragraph: only that section is written again; the others come from
    what was written before (same text, style and model), told in one delta each."""
    expander = SectionedExpander(Writer(), Limits())
    remembered: dict[str, Written] = {}
    first = await expander.expand(DRAFT, "creative", remember=remembered.__setitem__)
    assert first.reused == 0 and len(remembered) == 10 and first.tokens_used == 30
    edited = DRAFT.replace("Paragraph 4 has five words.", "Paragraph 4 now has six words.")
    writer = Writer()
    recorder = Recorder()
    again = await SectionedExpander(writer, Limits()).expand(edited, "creative", recorder, reuse=remembered.get)
    assert again.reused == 9 and writer.tries == {4: 1} and again.tokens_used == 3
    assert again.text == first.text.replace("Paragraph 4 has five words.", "Paragraph 4 now has six words.")
    told = [e for e in recorder.events if e[0] == "delta" and e[1] == 0]
    assert told == [("delta", 0, first.parts[0].written.text)]
    # Another style or model is another expansion: nothing is reused.
    assert (await SectionedExpander(Writer(), Limits()).expand(edited, "formal", reuse=remembered.get)).reused == 0
    other = Writer()
    other.model = "another-model"
    assert (await SectionedExpander(other, Limits()).expand(edited, "creative", reuse=remembered.get)).reused == 0


async def test_a_cancelled_draft_remembers_the_sections_it_finished() -> None:
    remembered: dict[str, Written] = {}
    writer = Writer(forever={9})  # the last section never finishes: the draft is still running when cancelled
    draft = asyncio.create_task(
        SectionedExpander(writer, Limits(attempts=1000)).expand(DRAFT, "creative", remember=remembered.__setitem__)
    )
    while len(remembered) < 9:
        await asyncio.sleep(0.01)
    draft.cancel()
    with pytest.raises(asyncio.CancelledError):
        await draft
    assert len(remembered) == 9


async def test_the_shared_limit_holds_across_drafts() -> None:
    writer = Writer()
    expander = SectionedExpander(writer, Limits(per_draft=8, shared=5))
    await asyncio.gather(*(expander.expand(DRAFT, "creative") for _ in range(3)))
    assert writer.most == 5


async def test_a_broken_section_starts_over_alone() -> None:
    writer = Writer(fail={4: 1})
    recorder = Recorder()
    expander = SectionedExpander(writer, Limits(per_draft=10))
    made = await expander.expand(DRAFT, "creative", recorder)
    assert writer.tries == {n: (2 if n == 4 else 1) for n in range(10)} and expander.retried == 1
    assert [e for e in recorder.events if e[0] == "restart"] == [("restart", 4)]
    section = [e for e in recorder.events if e[0] in ("delta", "restart") and e[1] == 4]
    after = section[section.index(("restart", 4)) + 1 :]
    assert "".join(e[2] for e in after).strip() == made.text.split("\n\n")[4]


async def test_a_section_that_keeps_failing_gives_up_the_message_and_stops_the_others() -> None:
    writer = Writer(forever={0})
    with pytest.raises(ProviderGaveUp, match="section 1 of 10 failed 2 times"):
        await SectionedExpander(writer, Limits(per_draft=10, attempts=2)).expand(DRAFT, "creative")
    assert writer.cancelled >= 1 and writer.now == 0
    assert writer.tries[0] == 2


async def test_the_most_model_calls_a_section_can_cost_is_its_attempts() -> None:
    """The one layer that calls the model again: with the defaults, 4 calls, then the message is
    given up for good (a PermanentError: JetStream does not deliver it again for this)."""
    writer = Writer(forever={3})
    expander = SectionedExpander(writer, Limits(per_draft=10))
    with pytest.raises(ProviderGaveUp) as caught:
        await expander.expand(DRAFT, "creative")
    assert writer.tries[3] == Limits().attempts == 4 and expander.retried == 3
    assert isinstance(caught.value, PermanentError)
    assert LLMSettings(api_key="k").client().max_retries == 0  # type: ignore[union-attr]


async def test_in_flight_work_is_made_once_and_dropped_when_superseded() -> None:
    inflight = InFlight()
    started = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(10)
        return "never"

    async def quick() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "made"

    first = asyncio.create_task(inflight.run("d1", "u", "b", 1, quick))
    second = asyncio.create_task(inflight.run("d1", "u", "b", 1, quick))
    assert await first == await second == "made" and calls == 1 and len(inflight) == 0

    old = asyncio.create_task(inflight.run("d-v1", "u", "b", 1, slow))
    waiter = asyncio.create_task(inflight.run("d-v1", "u", "b", 1, slow))
    await started.wait()
    assert await inflight.run("d-v2", "u", "b", 2, quick) == "made"  # starting v2 cancels v1
    for task in (old, waiter):
        with pytest.raises(Superseded):
            await task
    assert inflight.cancelled == 1 and inflight.supersede("u", "b", 3) == 0 and len(inflight) == 0
    other = asyncio.create_task(inflight.run("x", "u", "c", 1, slow))
    await asyncio.sleep(0.01)
    assert inflight.supersede("someone-else", "c", 9) == 0, "only the owner's source"
    other.cancel()
    with pytest.raises(asyncio.CancelledError):
        await other


def progress(
    section: int, delta: str, seq: int, progress_id: int, *, attempt: int = 1, done: bool = False, restart: bool = False
) -> dict[str, Any]:
    return {
        "type": "blob.progress",
        "progress_id": progress_id,
        "parent_id": "b",
        "parent_version": 1,
        "derived_id": "d",
        "processor": "text-expansion",
        "attempt": attempt,
        "section": section,
        "sections": 2,
        "seq": seq,
        "delta": delta,
        "done": done,
        "restart": restart,
    }


def test_a_late_reader_gets_the_text_so_far_with_restarts_applied() -> None:
    partial = Partial("text-expansion", "d", 1, 1, 2)
    for body in (
        progress(0, "Hel", 1, 10),
        progress(1, "Wor", 2, 11),
        progress(0, "lo.", 3, 12, done=True),
        progress(1, "Wo", 4, 13, restart=True),
    ):
        partial.add(body)
    view = partial.view()
    assert view["text"] == "Hello.\n\nWo" and view["sections_done"] == 1 and view["progress_id"] == 13


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()

    async def send_str(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(text)


async def test_a_socket_that_is_behind_gets_joined_deltas_and_no_delta_passes_an_event() -> None:
    hub = Hub(GatewayMetrics(CollectorRegistry()), queue_size=8)
    socket = FakeSocket()
    connection = hub.open("u", socket)  # type: ignore[arg-type]
    hub.start(connection)
    await asyncio.sleep(0)
    for n in range(1, 41):  # far more than the queue holds: joined, not dropped
        hub.deliver_progress("u", progress(n % 2, f"w{n} ", n, 100 + n, done=n >= 39), 100 + n)
    hub.deliver("u", '{"type": "blob.derived"}', 7)
    hub.deliver_progress("u", progress(0, "late ", 41, 141), 141)
    socket.gate.set()
    for _ in range(50):
        await asyncio.sleep(0.001)
    import json

    got = [json.loads(text) for text in socket.sent]
    assert not connection.closed and len(got) <= 5 and hub.metrics.coalesced._value.get() > 0
    texts = {0: "", 1: ""}
    for message in got[:-2]:
        texts[message["section"]] += message["delta"]
    # The first message went out before the rest arrived; everything else was joined per section.
    assert texts[0] + texts[1] != "" and sorted((texts[0] + texts[1]).split()) == sorted(f"w{n}" for n in range(1, 41))
    assert got[-2]["type"] == "blob.derived" and got[-1]["delta"] == "late " and got[-1]["progress_id"] == 141
    hub.close(connection)
