"""A kept section takes the place of the draft text it was written from, and nothing else."""

from __future__ import annotations

import pytest

from contracts.paragraphs import paragraph_spans
from gateway.keeping import SectionNotInDraft, keep

DRAFT = "First paragraph.\n\n  Mara climbed. She stopped.  \n\n\nLast one."


def test_paragraphs_are_numbered_as_text_expansion_numbers_them() -> None:
    assert [DRAFT[a:b] for a, b in paragraph_spans(DRAFT)] == [
        "First paragraph.",
        "Mara climbed. She stopped.",
        "Last one.",
    ]


def test_the_section_replaces_its_own_text_in_its_paragraph() -> None:
    kept = keep(DRAFT, "Mara climbed.", " Mara climbed the long stair, slowly. ", (2, 2))
    assert kept.content == "First paragraph.\n\n  Mara climbed the long stair, slowly. She stopped.  \n\n\nLast one."
    assert kept.content[kept.start : kept.end] == "Mara climbed the long stair, slowly."


def test_a_section_whose_text_is_gone_is_refused() -> None:
    with pytest.raises(SectionNotInDraft):
        keep(DRAFT, "Mara ran.", "x", (2, 2))
    with pytest.raises(SectionNotInDraft):
        keep(DRAFT, "Last one.", "x", (2, 2))  # elsewhere in the draft is not where it came from
    with pytest.raises(SectionNotInDraft):
        keep(DRAFT, "Last one.", "x", (4, 4))


def test_a_paragraph_wholly_kept_from_the_model_is_not_expanded_again() -> None:
    from processors.text_expansion.processor import kept_paragraphs

    start, end = paragraph_spans(DRAFT)[1]
    assert kept_paragraphs(DRAFT, [{"start": start, "end": end}]) == {2}
    assert kept_paragraphs(DRAFT, [{"start": start, "end": end - 1}]) == set()  # the writer's last character
    halves = [{"start": start, "end": start + 5}, {"start": start + 5, "end": end}]
    assert kept_paragraphs(DRAFT, halves) == {2}
