"""The book compiler's pure parts for exports: formats, diffs, manuscript arithmetic."""

from __future__ import annotations

from contracts.models import BOOK_EXPORT_FORMATS
from processors.book_compiler.diff import diff, word_changes
from processors.book_compiler.exports import FORMATS, nearest_hundred, surname


def test_the_gateway_and_the_compiler_offer_the_same_formats() -> None:
    assert tuple(FORMATS) == BOOK_EXPORT_FORMATS


def test_word_changes_count_words_in_and_out() -> None:
    assert word_changes("a b c d", "a b c d") == (0, 0)
    assert word_changes("a b c d", "a x c d e") == (2, 1)
    assert word_changes("", "one two") == (2, 0) and word_changes("one two", "") == (0, 2)


def test_a_diff_names_chapters_added_removed_and_changed() -> None:
    a = {1: ("One", "same words"), 2: ("Two", "old words here"), 3: ("Three", "gone")}
    b = {1: ("One", "same words"), 2: ("Two!", "new words here"), 4: ("Four", "fresh chapter text")}
    found = diff(a, b)
    assert [(c["chapter"], c["change"]) for c in found["chapters"]] == [(2, "changed"), (3, "removed"), (4, "added")]
    assert found["chapters"][0]["title_changed"] and found["unchanged"] == 1
    assert (found["words_added"], found["words_removed"]) == (1 + 0 + 3, 1 + 1 + 0)


def test_manuscript_arithmetic() -> None:
    assert [nearest_hundred(n) for n in (0, 49, 150, 1249, 1250, 80_049)] == [100, 100, 200, 1200, 1200, 80_000]
    assert surname("Ann Marie Lee") == "Lee" and surname(None) == "Anonymous" and surname("  ") == "Anonymous"
