"""Which characters of a draft the model wrote: spans kept through the writer's later edits.

A span is `[start, end)` of the draft's `content`. The index keeps them; a client never sets them
(the keep route adds one). On each save the spans move with the text: what is before the edit
stays, what is after it shifts by the edit's length, and what the edit replaced is no longer AI
text (a span the writer retypes stops being one; an edit inside a span splits it).

An edit is found as the text between the longest common prefix and suffix of the two versions:
one pass, whatever the draft's length. Two edits far apart between saves (an autosave comes 800 ms
after typing stops) count as one from the first to the last, so the spans between them are
dropped: the AI share can be understated that way, never overstated.
"""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.data import Span

TEXT_SCHEMA = "text-input-v1"


def normalized(spans: list[dict[str, Any]], length: int) -> list[dict[str, Any]]:
    """The spans within `[0, length)`, non-empty, in order and not overlapping."""
    found: list[dict[str, Any]] = []
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        start = max(span["start"], found[-1]["end"] if found else 0, 0)
        end = min(span["end"], length)
        if end > start:
            found.append({**span, "start": start, "end": end})
    return found


def edit_between(old: str, new: str) -> tuple[int, int, int]:
    """(where the edit starts, where it ends in `old`, where it ends in `new`)."""
    prefix = 0
    most = min(len(old), len(new))
    while prefix < most and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < most - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return prefix, len(old) - suffix, len(new) - suffix


def moved(old: str, new: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`spans` of `old` as they stand in `new`."""
    if old == new or not spans:
        return normalized(spans, len(new))
    start, old_end, new_end = edit_between(old, new)
    shift = new_end - old_end
    found: list[dict[str, Any]] = []
    for span in spans:
        if span["end"] <= start:
            found.append(span)
            continue
        if span["start"] >= old_end:
            found.append({**span, "start": span["start"] + shift, "end": span["end"] + shift})
            continue
        # The edit cuts into the span: what is on either side of it stays the model's.
        if span["start"] < start:
            found.append({**span, "end": start})
        if span["end"] > old_end:
            found.append({**span, "start": new_end, "end": span["end"] + shift})
    return normalized(found, len(new))


def with_provenance(old: dict[str, Any], new: dict[str, Any], kept: list[Span]) -> dict[str, Any]:
    """`new` draft data with the old version's spans moved to it and `kept` added; no spans, no field."""
    spans = moved(str(old.get("content", "")), str(new.get("content", "")), list(old.get("provenance") or []))
    spans = normalized([*spans, *(msgspec.structs.asdict(k) for k in kept)], len(str(new.get("content", ""))))
    data = {k: v for k, v in new.items() if k != "provenance"}
    if spans:
        data["provenance"] = [{k: v for k, v in s.items() if v is not None} for s in spans]
    return data


def ai_words(content: str, spans: list[dict[str, Any]]) -> int:
    """How many of the content's words lie wholly inside the spans."""
    count = 0
    at = 0
    inside = sorted((s["start"], s["end"]) for s in spans)
    for word in content.split():
        begin = content.index(word, at)
        at = begin + len(word)
        if any(a <= begin and at <= b for a, b in inside):
            count += 1
    return count


def word_counts(data: dict[str, Any]) -> dict[str, int]:
    """A draft's words and how many of them the model wrote: stored with it, summed per book."""
    content = str(data.get("content") or "")
    return {"words": len(content.split()), "ai_words": ai_words(content, list(data.get("provenance") or []))}
