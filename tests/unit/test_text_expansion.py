"""Text expansion's pure parts: the offline expander, style analysis, derived ids."""

from __future__ import annotations

import pytest

from processors.runtime.handler import derived_id
from processors.text_expansion.offline import expand, noun_phrases
from processors.text_expansion.style import analyse, sentences, syllables, words

DRAFT = (
    "The letter arrived on a Tuesday, stamped twice and smelling of salt. Mara read it standing in the doorway. "
    "Her uncle had left her the lighthouse on Gull Point, and with it a ledger of ships that never came home."
)


@pytest.mark.parametrize("style", ["formal", "casual", "creative"])
def test_offline_expansion_keeps_the_draft_and_expands_it_three_to_five_times(style: str) -> None:
    expanded = expand(DRAFT, style)
    ratio = len(words(expanded)) / len(words(DRAFT))
    assert 3.0 <= ratio <= 5.0
    for sentence in sentences(DRAFT):
        assert sentence in expanded
    found = sentences(expanded)
    assert len(found) == len(set(found)), "no sentence twice"
    assert "lorem" not in expanded.lower()


def test_styles_read_differently() -> None:
    assert expand(DRAFT, "formal") != expand(DRAFT, "casual") != expand(DRAFT, "creative")
    assert "'" in expand(DRAFT, "casual").replace(DRAFT, "")  # contractions


def test_expansion_is_deterministic_and_handles_tiny_drafts() -> None:
    assert expand(DRAFT, "creative") == expand(DRAFT, "creative")
    tiny = expand("Rain again.", "creative")
    assert tiny.startswith("Rain again.") and len(words(tiny)) > 2


def test_noun_phrases_come_from_the_text() -> None:
    assert noun_phrases(DRAFT)[:4] == ["letter", "Tuesday", "doorway", "uncle"]


@pytest.mark.parametrize("word, count", [("cat", 1), ("table", 2), ("lighthouse", 2), ("readability", 5), ("the", 1)])
def test_syllables(word: str, count: int) -> None:
    assert syllables(word) == count


def test_flesch_reading_ease_by_the_formula() -> None:
    text = "The cat sat on the mat. The dog ran."
    analysis = analyse(text)
    # 9 words, 2 sentences, 9 syllables: 206.835 - 1.015 * 4.5 - 84.6 * 1.0
    assert analysis.readability_score == round(206.835 - 1.015 * 4.5 - 84.6, 1)
    assert (analysis.sentence_count, analysis.word_count) == (2, 9)
    assert analysis.vocabulary_level == "basic"
    hard = analyse(
        "Notwithstanding considerable institutional reluctance, the administration subsequently implemented "
        "comprehensive organisational restructuring."
    )
    assert hard.readability_score < analysis.readability_score and hard.complexity > analysis.complexity
    assert hard.vocabulary_level == "advanced"


def test_tone_follows_the_text() -> None:
    assert analyse("You won't believe it! We're going, aren't we? It's fine!").tone == "conversational"
    assert (
        analyse("Therefore the committee resolved, however reluctantly, to proceed. Moreover, it was thus agreed.").tone
        == "formal"
    )


def test_derived_ids_are_deterministic_per_source_version_and_processor() -> None:
    one = derived_id("text-expansion", "blob-1", 1)
    assert one == derived_id("text-expansion", "blob-1", 1)
    assert one != derived_id("text-expansion", "blob-1", 2) != derived_id("book-compiler", "blob-1", 1)
    assert one.startswith("text-expansion-") and "." not in one
