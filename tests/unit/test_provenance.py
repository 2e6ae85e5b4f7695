"""The spans of a draft the model wrote move with the writer's edits; what the writer retypes stops being AI text."""

from __future__ import annotations

from typing import Any

from index_service.provenance import ai_words, edit_between, moved, normalized


def span(start: int, end: int, section: str = "s1") -> dict[str, Any]:
    return {"start": start, "end": end, "expansion_id": "x1", "section_id": section, "model": "m"}


OLD = "Intro. AI wrote this part. Outro."
AI = span(7, 26)  # "AI wrote this part."


def test_an_edit_before_a_span_shifts_it_and_one_after_leaves_it() -> None:
    new = "The intro. AI wrote this part. Outro."
    [after] = moved(OLD, new, [AI])
    assert new[after["start"] : after["end"]] == "AI wrote this part."
    assert moved(OLD, OLD + " More.", [AI]) == [AI]


def test_retyping_inside_a_span_splits_it_and_the_retyped_words_are_the_writers() -> None:
    new = "Intro. AI typed this part. Outro."
    pieces = moved(OLD, new, [AI])
    assert [new[p["start"] : p["end"]] for p in pieces] == ["AI ", " this part."]
    assert all(p["section_id"] == "s1" for p in pieces)
    assert ai_words(new, pieces) == 3  # "AI", "this", "part."; "typed" is the writer's


def test_replacing_the_whole_span_ends_it() -> None:
    new = "Intro. Mine now. Outro."
    assert ai_words(new, moved(OLD, new, [AI])) == 0  # at most the full stop both share is left
    assert moved(OLD, "Intro. Outro.", [AI]) == []


def test_the_edit_is_found_between_common_ends() -> None:
    assert edit_between("abcdef", "abXYef") == (2, 4, 4)
    assert edit_between("aaa", "aaaa") == (3, 3, 4)
    assert edit_between("same", "same") == (4, 4, 4)


def test_spans_are_kept_in_bounds_in_order_and_apart() -> None:
    assert normalized([span(5, 50), span(-3, 2), span(1, 7), span(9, 9)], 20) == [
        span(0, 2),
        span(2, 7),
        span(7, 20),
    ]
