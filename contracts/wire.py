"""Every message of the federation's contract, by name: what `docs/wire/*.json` is generated from.

`python -m contracts.wire` writes one JSON Schema per message into docs/wire/, for teams that
implement a processor in another language; a test fails when a file and its Struct drift apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from . import events, models, problems, processors

MESSAGES: dict[str, Any] = {
    # Events and commands on the STUDIO stream (subjects in docs/federation.md).
    "BlobCreated": events.BlobCreated,
    "BlobUpdated": events.BlobUpdated,
    "BlobDeleted": events.BlobDeleted,
    "CompileBook": events.CompileBook,
    "BookCompiled": events.BookCompiled,
    "BookUpdated": events.BookUpdated,
    "BlobProgress": events.BlobProgress,
    "ProcessorRegistered": events.ProcessorRegistered,
    "ProcessorActivated": events.ProcessorActivated,
    "ProcessorDeactivated": events.ProcessorDeactivated,
    "ProcessorFailed": events.ProcessorFailed,
    # The index service's internal API, as a processor uses it.
    "RegisterSchema": models.RegisterSchema,
    "SchemaDocument": models.SchemaDocument,
    "ProcessorRegistration": models.ProcessorRegistration,
    "BlobBatchRequest": models.BlobBatchRequest,
    "BlobBatch": models.BlobBatch,
    "RegisterDerivedBlob": models.RegisterDerivedBlob,
    "AwaitInput": models.AwaitInput,
    "BlobIndexEntry": models.BlobIndexEntry,
    "RecordFailure": models.RecordFailure,
    # The query API every processor serves.
    "DerivedBatchRequest": processors.DerivedBatchRequest,
    "DerivedBatch": processors.DerivedBatch,
    "DerivedBlob": processors.DerivedBlob,
    # Every error.
    "Problem": problems.Problem,
}
DIRECTORY = Path(__file__).resolve().parent.parent / "docs" / "wire"


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of one message, with its definitions inline."""
    schema: dict[str, Any] = msgspec.json.schema(MESSAGES[name])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{name}.json", "title": name, **schema}


def rendered(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"


def main() -> int:
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    for name in MESSAGES:
        (DIRECTORY / f"{name}.json").write_text(rendered(name))
    print(f"wrote {len(MESSAGES)} schemas to {DIRECTORY}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
