"""The book compiler's and pitch builder's pure parts."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.models import ChapterState
from contracts.validation import builtin_schemas
from processors.book_compiler.compiler import (
    EXPANSION_UNAVAILABLE,
    NO_EXPANSION,
    STALE_EXPANSION,
    choose_texts,
    count_words,
    markdown,
    plain_text,
)
from processors.pitch_builder.builder import offline_sections, one_pager

CHAPTERS = [
    ChapterState(chapter=2, title="Two", draft_blob_id="d2", processed_blob_ids={"te": "e2"}),
    ChapterState(chapter=1, title="One", draft_blob_id="d1", processed_blob_ids={"te": "e1"}),
    ChapterState(chapter=3, title="Three", draft_blob_id="d3"),
]
DRAFTS: dict[str, dict[str, Any]] = {
    "d1": {"version": 1, "data": {"content": "one draft"}},
    "d2": {"version": 2, "data": {"content": "two draft text"}},
    "d3": {"version": 1, "data": {"content": "three"}},
}
EXPANSIONS: dict[str, dict[str, Any]] = {
    "e1": {"source_version": 1, "data": {"expanded": "one expanded at length"}},
    "e2": {"source_version": 1, "data": {"expanded": "two expanded from an old draft"}},
}


def test_chapters_come_in_order_with_the_current_expansion_or_the_draft() -> None:
    compiled = choose_texts(CHAPTERS, DRAFTS, EXPANSIONS, expansion_processor="te", prefer="expanded")
    assert [(c.chapter, c.source, c.fallback_reason) for c in compiled] == [
        (1, "expanded", None),
        (2, "draft", STALE_EXPANSION),
        (3, "draft", NO_EXPANSION),
    ]
    assert [c.text for c in compiled] == ["one expanded at length", "two draft text", "three"]
    assert [c.word_count for c in compiled] == [4, 3, 1]


def test_an_unreachable_expansion_store_and_a_preference_for_drafts() -> None:
    down = choose_texts(CHAPTERS, DRAFTS, None, expansion_processor="te", prefer="expanded")
    assert {c.fallback_reason for c in down} == {EXPANSION_UNAVAILABLE}
    drafts = choose_texts(CHAPTERS, DRAFTS, EXPANSIONS, expansion_processor="te", prefer="draft")
    assert {(c.source, c.fallback_reason) for c in drafts} == {("draft", None)}


def test_a_chapter_whose_draft_is_gone_is_left_out() -> None:
    compiled = choose_texts(
        CHAPTERS,
        {k: v for k, v in DRAFTS.items() if k != "d2"},
        EXPANSIONS,
        expansion_processor="te",
        prefer="expanded",
    )
    assert [c.chapter for c in compiled] == [1, 3]


def test_exports_carry_every_word_counted() -> None:
    compiled = choose_texts(CHAPTERS, DRAFTS, EXPANSIONS, expansion_processor="te", prefer="expanded")
    text, md = plain_text("Book", compiled), markdown("Book", compiled)
    assert md.startswith("# Book\n\n## Chapter 1: One\n\none expanded at length\n")
    assert text.startswith("Book\n\nChapter 1: One\n\n")
    headings = 1 + sum(count_words(f"Chapter {c.chapter}: {c.title}") for c in compiled)
    assert count_words(text) == headings + sum(c.word_count for c in compiled)


@pytest.mark.parametrize("example", builtin_schemas()["pitch-input-v1"]["examples"])
def test_the_offline_pitch_follows_the_notes(example: dict[str, Any]) -> None:
    sections = offline_sections(example)
    assert [s["key"] for s in sections] == ["hook", "synopsis", "characters", "audience", "comparables", "positioning"]
    assert example["logline"] in sections[0]["body"] and sections[1]["body"] == example["synopsis"]
    page = one_pager(example, sections)
    assert page.startswith(f"# {example['title']}\n\n*{example['logline']}*")


def test_a_minimal_pitch_has_only_what_the_notes_support() -> None:
    notes = {"title": "Salt", "logline": "A harbour town keeps a secret under its tide tables."}
    sections = offline_sections(notes)
    assert [s["key"] for s in sections] == ["hook", "synopsis", "positioning"]
    assert sections[0]["body"].startswith("A novel: A harbour town")


def test_what_the_runtime_reports_when_it_gives_up() -> None:
    from datetime import UTC, datetime

    from contracts.events import BlobDeleted, BlobUpdated, CompileBook
    from processors.runtime.consumer import failure_report

    moment = datetime.now(UTC)
    compile_request = CompileBook(event_id="r1", user_id="u1", book_id="b1", occurred_at=moment)
    report = failure_report("book-compiler", compile_request, "x" * 5000, 42)
    assert report is not None and report.book_id == "b1" and report.request_id == "r1" and report.blob_id is None
    assert report.key == "seq-42" and len(report.reason) == 2000
    update = BlobUpdated(
        event_id="e",
        user_id="u1",
        blob_id="p1",
        schema_id="pitch-input-v1",
        version=3,
        occurred_at=moment,
        processor_id="user",
    )
    report = failure_report("pitch-builder", update, "bad", 7)
    assert report is not None and report.blob_id == "p1" and report.source_version == 3 and report.book_id is None
    deletion = BlobDeleted(
        event_id="e",
        user_id="u1",
        blob_id="p1",
        schema_id="pitch-input-v1",
        version=3,
        occurred_at=moment,
        processor_id="user",
    )
    assert failure_report("pitch-builder", deletion, "bad", 8) is None


def test_a_tone_the_genre_already_says_is_said_once() -> None:
    from processors.pitch_builder.builder import kind_of

    assert kind_of("literary", "literary mystery") == "literary mystery"
    assert kind_of("Dark", "thriller") == "Dark thriller"
    assert kind_of("", "") == "novel"
    assert kind_of("playful", "") == "playful"


def test_the_words_the_model_wrote_can_be_left_out_or_marked() -> None:
    from processors.book_compiler.compiler import AI_LEFT_OUT

    kept = "Mara climbed. The lamp turned slowly above the sleeping harbour."
    spans = [{"start": 14, "end": len(kept), "expansion_id": "e", "section_id": "s"}]
    drafts = {**DRAFTS, "d1": {"version": 1, "data": {"content": kept, "provenance": spans}}}
    marked = choose_texts(CHAPTERS, drafts, EXPANSIONS, expansion_processor="te", prefer="expanded", ai="mark")
    assert marked[0].text == "[AI]one expanded at length[/AI]"  # an expanded chapter is the model's whole
    drafted = choose_texts(CHAPTERS, drafts, EXPANSIONS, expansion_processor="te", prefer="draft", ai="mark")
    assert drafted[0].text == "Mara climbed. [AI]The lamp turned slowly above the sleeping harbour.[/AI]"
    left_out = choose_texts(CHAPTERS, drafts, EXPANSIONS, expansion_processor="te", prefer="expanded", ai="omit")
    assert {(c.source, c.fallback_reason) for c in left_out} == {("draft", AI_LEFT_OUT)}
    assert left_out[0].text == "Mara climbed."
    assert choose_texts(CHAPTERS, drafts, EXPANSIONS, expansion_processor="te", prefer="draft")[0].text == kept
