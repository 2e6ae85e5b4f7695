"""NATS subject names: `<entity>.<action>.<schema>`, and the stream that holds them."""

from __future__ import annotations

STREAM_NAME = "STUDIO"
STREAM_SUBJECTS = ("blob.>", "book.>", "processor.>")
# Partial output of derivations in flight: a stream of its own, kept for minutes, in memory.
PROGRESS_STREAM = "STUDIO_PROGRESS"
PROGRESS_SUBJECTS = ("progress.>",)


def blob_created(schema_id: str) -> str:
    return f"blob.created.{schema_id}"


def blob_updated(schema_id: str) -> str:
    return f"blob.updated.{schema_id}"


def blob_deleted(schema_id: str) -> str:
    return f"blob.deleted.{schema_id}"


BOOK_COMPILE_REQUESTED = "book.compile.requested"
BOOK_COMPILED = "book.compiled"
BOOK_UPDATED = "book.updated"


def processor_registered(processor_id: str) -> str:
    return f"processor.registered.{processor_id}"


def processor_deactivated(processor_id: str) -> str:
    return f"processor.deactivated.{processor_id}"


def processor_activated(processor_id: str) -> str:
    return f"processor.activated.{processor_id}"


def processor_completed(processor_id: str) -> str:
    return f"processor.completed.{processor_id}"


def processor_failed(processor_id: str) -> str:
    return f"processor.failed.{processor_id}"


def processor_replay(processor_id: str) -> str:
    """Where an operator's replay of a dead letter goes: to that processor alone."""
    return f"processor.replay.{processor_id}"


def progress(user_id: str, parent_id: str, processor_id: str) -> str:
    """Where `processor_id`'s partial output made from `parent_id` goes; the user id first, so
    that a gateway can filter by user (every part is an id of the one grammar: no dots)."""
    return f"progress.{user_id}.{parent_id}.{processor_id}"


def user_progress(user_id: str) -> str:
    return f"progress.{user_id}.>"


def blob_progress(user_id: str, parent_id: str) -> str:
    return f"progress.{user_id}.{parent_id}.*"
