"""A small processor for benchmarks: counts a draft's words, keeps them in memory.

`PROCESSOR_ID=extra-1 STUDIO_EXTRA_PORT=8031 python -m bench.extra_processor`; it owns the
schema `word-tally-v1`, registered from bench/schemas/.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from aiohttp import web

from contracts.processors import DerivedBlob
from processors.runtime import Derived, ProcessorInfo, RuntimeSettings, Source, deriving, processor_app
from servicekit.runner import serve


class MemoryStore:
    storage_location = "memory"

    def __init__(self) -> None:
        self.blobs: dict[str, DerivedBlob] = {}

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ready(self) -> None: ...

    async def upsert(self, blob: DerivedBlob) -> None:
        self.blobs[blob.id] = blob

    async def get(self, user_id: str, blob_id: str) -> DerivedBlob | None:
        found = await self.batch(user_id, [blob_id])
        return found[0] if found else None

    async def batch(self, user_id: str, ids: list[str]) -> list[DerivedBlob]:
        return [self.blobs[i] for i in ids if i in self.blobs and self.blobs[i].user_id == user_id]

    async def since(self, user_id: str, since: datetime | None, limit: int) -> list[DerivedBlob]:
        return [b for b in self.blobs.values() if b.user_id == user_id and (since is None or b.created_at > since)][
            :limit
        ]

    async def for_parent(self, user_id: str, parent_id: str) -> list[DerivedBlob]:
        return [b for b in self.blobs.values() if b.user_id == user_id and b.parent_blob_id == parent_id]

    async def delete(self, user_id: str, ids: list[str]) -> int:
        gone = [i for i in ids if i in self.blobs and self.blobs[i].user_id == user_id]
        for blob_id in gone:
            del self.blobs[blob_id]
        return len(gone)


class WordTally:
    def __init__(self, processor_id: str) -> None:
        self.info = ProcessorInfo(
            id=processor_id,
            name=processor_id,
            description="Counts a draft's words (a benchmark's processor).",
            input_schema_ids=("text-input-v1",),
            output_schema_id="word-tally-v1",
            storage_type="memory",
            database_name="none",
            schema_package="bench",
        )
        self.store = MemoryStore()

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    def extra_routes(self) -> list[web.RouteDef]:
        return []

    async def transform(self, source: Source) -> Derived:
        words = len(str(source.data["content"]).split())
        data: dict[str, Any] = {"words": words}
        return Derived(data=data, title="Word tally", preview=f"{words} words")


def create_app(settings: RuntimeSettings) -> web.Application:
    tally = WordTally(os.environ["PROCESSOR_ID"])
    return processor_app(tally, settings, deriving(tally))


if __name__ == "__main__":
    serve(os.environ["PROCESSOR_ID"], lambda: RuntimeSettings.from_env("EXTRA", 8031), create_app)
