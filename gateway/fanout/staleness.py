"""Why a derived piece of a chapter is stale when its parent did not change: an input it read
besides the parent (a story-bible entry) moved on, and which of its sections used that input."""

from __future__ import annotations

from typing import Any

from contracts.models import InputChanged
from contracts.views import STALE


def reason_of(changed: list[InputChanged]) -> str:
    """`'Mara' changed (v1 -> v2); 'Gull Point' was deleted`."""
    return "; ".join(c.reason() for c in changed)


def with_stale_sections(data: dict[str, Any], changed: list[InputChanged]) -> dict[str, Any]:
    """`data` (not changed in place) with each section whose receipt names a changed input marked
    `stale`, with the reason; the other sections keep their status."""
    sections = data.get("sections")
    if not changed or not isinstance(sections, list):
        return data
    by_id = {c.blob_id: c for c in changed}
    marked = []
    for section in sections:
        if not isinstance(section, dict):
            marked.append(section)
            continue
        receipt = section.get("receipt")
        lines = receipt if isinstance(receipt, list) else []
        hit = [by_id[u["entry_id"]] for u in lines if isinstance(u, dict) and u.get("entry_id") in by_id]
        marked.append({**section, "status": STALE, "stale_reason": reason_of(hit)} if hit else section)
    return {**data, "sections": marked}
