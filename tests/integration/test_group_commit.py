"""Concurrent inserts share one write, and each caller still gets its own answer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from index_service.group_commit import GroupInsert
from studio_testing.harness import Stack


async def test_concurrent_inserts_are_batched_and_answered_one_by_one(stack: Stack) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        collection = client[f"group_{uuid.uuid4().hex[:12]}"]["docs"]
        await collection.create_index([("key", ASCENDING)], unique=True)
        inserts = GroupInsert(collection)
        # 60 documents; keys repeat every 40, so the last 20 collide with a document of the same run.
        docs = [{"_id": f"d{n}", "key": n % 40} for n in range(60)]
        results = await asyncio.gather(*(inserts.insert(doc) for doc in docs), return_exceptions=True)

        failed = [n for n, r in enumerate(results) if isinstance(r, DuplicateKeyError)]
        assert [r for r in results if r is not None and not isinstance(r, DuplicateKeyError)] == []
        assert len(failed) == 20  # exactly one document per key got in, whichever it was
        stored = await collection.find({}).to_list(None)
        assert sorted(d["key"] for d in stored) == list(range(40))
        assert {d["_id"] for d in stored} == {f"d{n}" for n in range(60)} - {f"d{n}" for n in failed}
        assert inserts.writes == 60 and inserts.batches < 60  # they shared writes

        with pytest.raises(DuplicateKeyError):
            await inserts.insert({"_id": "d0", "key": 1000})  # a lone insert fails as insert_one would
        assert await collection.count_documents({"key": 1000}) == 0
    finally:
        await client.close()
