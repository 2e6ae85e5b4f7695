"""The story bible's entries a section's prompt gets: chosen by rule, with a receipt."""

from __future__ import annotations

from processors.text_expansion.context import Codex, Entry, applicable, entry_of, folded

MARA = Entry(id="e-mara", version=3, name="Mara", kind="character", description="An archivist.", aliases=("Quist",))
GULL = Entry(id="e-gull", version=1, name="Gull Point", kind="place", description="A cape.", always_include=True)
LEDGER = Entry(id="e-ledger", version=1, name="the Ledger", kind="object", description="Ships that never came home.")


def test_names_and_aliases_whole_words_any_case_in_reading_order() -> None:
    codex = Codex([MARA, GULL, LEDGER])
    paragraphs = [(1, "The ledger lay open."), (2, "QUIST had written in it; Marathon runners passed outside.")]
    receipt = codex.choose(paragraphs, chapter=1, budget=1000)
    assert [(u.name, u.why) for u in receipt] == [
        ("Gull Point", "always"),
        ("the Ledger", "matched 'the Ledger' in paragraph 1"),
        ("Mara", "matched 'Quist' in paragraph 2"),
    ]
    assert receipt[2].entry_version == 3 and receipt[2].tokens == MARA.tokens
    assert codex.choose([(1, "Marathon, Maraschino, mara_x.")], chapter=1, budget=1000)[1:] == []


def test_accents_and_scripts() -> None:
    zoe = Entry(id="z", version=1, name="Zoë", description="A diver.")
    ivan = Entry(id="i", version=1, name="Иван", description="A ferryman.")
    li = Entry(id="l", version=1, name="李白", description="A poet.")
    codex = Codex([zoe, ivan, li])
    paragraphs = [(1, "ZOE dived; иван rowed."), (2, "他说李白来了。")]
    assert [u.entry_id for u in codex.choose(paragraphs, chapter=None, budget=1000)] == ["z", "i", "l"]
    assert folded("Zoë") == folded("ZOE") == "zoe"
    assert codex.choose([(1, "Ивановна came.")], chapter=None, budget=1000) == []  # a longer word is not the name


def test_an_entry_applies_from_its_chapter_and_a_later_one_replaces_it() -> None:
    young = Entry(id="young", version=1, name="Mara", description="A girl.")
    grown = Entry(id="grown", version=1, name="Mara", description="The keeper now.", from_chapter=12)
    codex = Codex([young, grown])
    assert [u.entry_id for u in codex.choose([(1, "Mara")], chapter=11, budget=100)] == ["young"]
    assert [u.entry_id for u in codex.choose([(1, "Mara")], chapter=12, budget=100)] == ["grown"]
    assert [e.id for e in applicable([grown], 3)] == []


def test_the_budget_takes_entries_in_order_and_skips_what_does_not_fit() -> None:
    long = Entry(id="long", version=1, name="Elias", description="x" * 400)
    short = Entry(id="short", version=1, name="Bell", description="A bell.")
    codex = Codex([GULL, long, short])
    paragraphs = [(1, "Elias rang the bell.")]
    assert [u.entry_id for u in codex.choose(paragraphs, chapter=1, budget=1000)] == ["e-gull", "long", "short"]
    tight = GULL.tokens + short.tokens
    assert [u.entry_id for u in codex.choose(paragraphs, chapter=1, budget=tight)] == ["e-gull", "short"]
    assert codex.choose(paragraphs, chapter=1, budget=0) == []


def test_the_same_input_gives_the_same_receipt() -> None:
    entries = [Entry(id=f"e{n}", version=1, name=f"Name{n}", description="d") for n in range(50)]
    text = [(1, " ".join(f"name{n}" for n in reversed(range(50))))]
    first = Codex(entries).choose(text, chapter=1, budget=10_000)
    assert first == Codex(list(reversed(entries))).choose(text, chapter=1, budget=10_000)
    assert [u.entry_id for u in first] == [f"e{n}" for n in reversed(range(50))]


def test_an_entry_blob_reads_as_the_rule_reads_it() -> None:
    data = {"name": " Mara ", "kind": "character", "aliases": ["Quist", " ", 7], "always_include": True}
    entry = entry_of("e1", 2, {**data, "from_chapter": 12})
    assert entry is not None
    assert (entry.name, entry.aliases, entry.always_include, entry.from_chapter, entry.version) == (
        "Mara",
        ("Quist",),
        True,
        12,
        2,
    )
    assert entry_of("e2", 1, {"name": "  ", "kind": "place"}) is None


def test_whether_an_entry_would_be_used_by_a_draft() -> None:
    codex = Codex([MARA])
    assert codex.uses([(1, "Quist smiled.")], MARA, chapter=3)
    assert not codex.uses([(1, "Marathon.")], MARA, chapter=3)
    late = Entry(id="late", version=1, name="Mara", from_chapter=5)
    assert not Codex([late]).uses([(1, "Mara")], late, chapter=4)
    assert Codex([GULL]).uses([(1, "Nothing here.")], GULL, chapter=1)  # always included
    chosen = Codex([MARA, GULL]).chosen([(1, "Mara")], chapter=1, budget=1000)
    assert [(used.entry_id, note) for used, note in chosen] == [
        ("e-gull", "Gull Point, place: A cape."),
        ("e-mara", "Mara (also: Quist), character: An archivist."),
    ]
