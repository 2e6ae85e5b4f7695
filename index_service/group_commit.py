"""Writes that arrive together are written together: one command, one commit.

Writes to one collection serialise in the database and each commit is made durable on its own,
so under many writers the index spends its time waiting for commits, not doing work. A group
sends the first write at once; writes that arrive while it is in flight wait and go in the next
batch, unordered, so each succeeds or fails alone and each caller gets its own result or its own
error (`DuplicateKeyError` for an insert), exactly as the single write would have given it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

DUPLICATE_KEY = 11000
MAX_BATCH = 256


class GroupInsert:
    """`await insert(doc)` behaves as `insert_one(doc)`; concurrent calls share one write."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], *, max_batch: int = MAX_BATCH) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writing = False
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.writes = 0

    async def insert(self, doc: dict[str, Any]) -> None:
        """Insert `doc`; raises what `insert_one` would (DuplicateKeyError, other PyMongoError)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)  # its caller may be gone: the error is theirs, not the loop's
        self._waiting.append((doc, future))
        if not self._writing:
            self._writing = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(future)  # a caller that goes away does not undo a write in flight

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                await self._settle(batch)
        finally:
            self._writing = False

    async def _settle(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        self.batches += 1
        self.writes += len(batch)
        failed: dict[int, BaseException] = {}
        try:
            await self._collection.insert_many([doc for doc, _ in batch], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                failed[int(error["index"])] = _one_error(error)
            if exc.details.get("writeConcernErrors"):
                for n in range(len(batch)):
                    failed.setdefault(n, exc)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # the whole write failed: so did each of its parts
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for n, (_, future) in enumerate(batch):
            if future.done():
                continue
            if n in failed:
                future.set_exception(failed[n])
            else:
                future.set_result(None)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _one_error(error: dict[str, Any]) -> WriteError:
    """The error `insert_one` would have raised for this document."""
    code = int(error.get("code", 0))
    kind = DuplicateKeyError if code == DUPLICATE_KEY else WriteError
    return kind(str(error.get("errmsg", "write error")), code, error)
