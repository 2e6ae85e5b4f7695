"""Where each processor is with a user blob, worked out from what the index holds.

A processor that consumes a blob's schema is `done` when it registered what it made from the
blob's current version, `failed` when it reported giving up on that version, else `pending`
(the gateway turns `pending` into `processing` while the progress stream shows the work).
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts.models import BlobView, ProcessingStatus, ProcessorRegistration, processing_summary


def consumers(schema_id: str, registrations: Iterable[ProcessorRegistration]) -> list[str]:
    """Active processors that make one blob from each blob of `schema_id`."""
    return sorted(r.id for r in registrations if r.active and r.output_scope == "blob" and r.derives_from(schema_id))


def statuses(
    schema_id: str, made: dict[str, str], gave_up: dict[str, str], registrations: Iterable[ProcessorRegistration]
) -> dict[str, ProcessingStatus]:
    """Per consuming processor: `made` maps a processor to what it derived from the blob's current
    version, `gave_up` to the reason it gave up on that version."""
    found: dict[str, ProcessingStatus] = {}
    for processor in consumers(schema_id, registrations):
        if processor in made:
            found[processor] = ProcessingStatus(state="done", derived_id=made[processor])
        elif processor in gave_up:
            found[processor] = ProcessingStatus(state="failed", reason=gave_up[processor])
        else:
            found[processor] = ProcessingStatus(state="pending")
    return found


def follow(view: BlobView, registrations: list[ProcessorRegistration]) -> BlobView:
    """`view` with each consuming processor's state and the blob's `processing_state` filled in."""
    made = {d.processor: d.id for d in view.derived if d.depth == 1 and d.source_version == view.version}
    gave_up = {
        f.processor: f.reason
        for f in view.failures
        if f.blob_id == view.id and f.source_version in (None, view.version)
    }
    view.processing = statuses(view.schema_id, made, gave_up, registrations)
    view.processing_state = processing_summary(view.processing)
    return view
