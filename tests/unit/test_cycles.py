"""A registration whose output would come back to its own inputs is a cycle."""

from __future__ import annotations

from contracts.models import ProcessorRegistration
from index_service.registry import cycle_through


def processor(pid: str, inputs: list[str], output: str) -> ProcessorRegistration:
    return ProcessorRegistration(
        id=pid,
        name=pid,
        storage_type="none",
        database_name="",
        output_schema_id=output,
        base_url="http://127.0.0.1:1",
        input_schema_ids=inputs,
    )


EXPANSION = processor("text-expansion", ["text-input-v1"], "expanded-text-v1")
SUMMARY = processor("summary", ["expanded-text-v1"], "chapter-summary-v1")
COMPILER = processor("book-compiler", ["text-input-v1", "expanded-text-v1"], "compiled-book-v1")


def test_a_chain_is_not_a_cycle() -> None:
    assert cycle_through(SUMMARY, [EXPANSION, COMPILER]) == []
    assert cycle_through(EXPANSION, [SUMMARY, COMPILER]) == []


def test_a_processor_that_feeds_itself_is_a_cycle() -> None:
    echo = processor("echo", ["echo-v1"], "echo-v1")
    assert [p.id for p in cycle_through(echo, [])] == ["echo"]


def test_a_cycle_through_others_is_named_in_order() -> None:
    back = processor("back", ["chapter-summary-v1"], "text-input-v1")
    assert [p.id for p in cycle_through(back, [EXPANSION, SUMMARY, COMPILER])] == ["back", "text-expansion", "summary"]
    # Whichever joins last closes it.
    assert [p.id for p in cycle_through(EXPANSION, [SUMMARY, back])] == ["text-expansion", "summary", "back"]


def test_what_a_processor_reads_besides_its_inputs_closes_a_cycle_too() -> None:
    reading = processor("text-expansion", ["text-input-v1"], "expanded-text-v1")
    reading.reads = ["codex-entry-v1"]
    bible_writer = processor("bible-writer", ["expanded-text-v1"], "codex-entry-v1")
    assert [p.id for p in cycle_through(bible_writer, [reading, SUMMARY])] == ["bible-writer", "text-expansion"]
    assert [p.id for p in cycle_through(reading, [bible_writer])] == ["text-expansion", "bible-writer"]
    assert cycle_through(reading, [SUMMARY, COMPILER]) == []  # reading entries nobody derives is no cycle
