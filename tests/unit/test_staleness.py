"""Why an expansion whose draft did not change is stale: an entry it read changed, and which sections used it."""

from __future__ import annotations

from contracts.models import InputChanged
from gateway.fanout.staleness import reason_of, with_stale_sections
from processors.text_expansion.sections import Section

MARA = InputChanged(blob_id="e-mara", name="Mara", used_version=1, version=2)
GONE = InputChanged(blob_id="e-key", name="the key", used_version=3)


def test_the_reason_names_each_entry_and_what_changed() -> None:
    assert reason_of([MARA, GONE]) == "'Mara' changed (v1 -> v2); 'the key' was deleted"


def test_only_the_sections_whose_receipts_name_a_changed_entry_are_marked() -> None:
    data = {
        "expanded": "...",
        "sections": [
            {"id": "a", "receipt": [{"entry_id": "e-mara"}, {"entry_id": "e-gull"}]},
            {"id": "b", "receipt": [{"entry_id": "e-gull"}]},
            {"id": "c", "receipt": [{"entry_id": "e-key"}]},
            {"id": "d"},
        ],
    }
    marked = with_stale_sections(data, [MARA, GONE])
    assert [(s["id"], s.get("status"), s.get("stale_reason")) for s in marked["sections"]] == [
        ("a", "stale", "'Mara' changed (v1 -> v2)"),
        ("b", None, None),
        ("c", "stale", "'the key' was deleted"),
        ("d", None, None),
    ]
    assert "status" not in data["sections"][0]  # the cached piece is not changed in place
    assert with_stale_sections(data, []) is data


def test_a_section_without_entries_keeps_the_key_it_always_had() -> None:
    section = Section(index=0, text="The lamp was cold.")
    assert section.key("m", "creative") == section.key("m", "creative", "")
    assert section.key("m", "creative", "e-mara@1") != section.key("m", "creative", "e-mara@2")
