"""Expanded texts in text expansion's own MongoDB database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import PyMongoError

from contracts.processors import DerivedBlob
from processors.runtime.errors import RetryableError
from servicekit.mongo import mongo_client

_FIELDS = DerivedBlob.__struct_fields__


def _doc(blob: DerivedBlob) -> dict[str, Any]:
    doc = msgspec.to_builtins(blob, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    return doc


def _blob(doc: dict[str, Any]) -> DerivedBlob:
    fields = {k: doc[k] for k in _FIELDS if k in doc}
    fields["id"] = doc["_id"]
    return msgspec.convert(fields, DerivedBlob)


class StoreUnavailable(RetryableError):
    code, title = "store-unavailable", "Text expansion's database is unavailable"


class ExpandedTextStore:
    """One document per expanded text (the seeds' ExpandedTextBlob); every read filters by user."""

    def __init__(self, url: str, database: str) -> None:
        self._url = url
        self._database = database
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        self.storage_location = f"mongodb/{database}/expanded_texts"

    @property
    def _collection(self) -> Any:
        assert self._client is not None, "the store is not open"
        return self._client[self._database]["expanded_texts"]

    async def open(self) -> None:
        self._client = mongo_client(self._url, appname="studio-text-expansion")
        await self._collection.create_index([("user_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])
        await self._collection.create_index([("user_id", ASCENDING), ("parent_blob_id", ASCENDING)])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def ready(self) -> None:
        assert self._client is not None
        await self._client.admin.command("ping")

    async def upsert(self, blob: DerivedBlob) -> None:
        doc = _doc(blob)
        try:
            await self._collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def get(self, user_id: str, blob_id: str) -> DerivedBlob | None:
        doc = await self._collection.find_one({"_id": blob_id, "user_id": user_id})
        return _blob(doc) if doc else None

    async def batch(self, user_id: str, ids: list[str]) -> list[DerivedBlob]:
        # By _id alone, the owner checked here: see the index service's batch for why.
        docs = await self._collection.find({"_id": {"$in": ids}}).to_list(None)
        return [_blob(d) for d in docs if d["user_id"] == user_id]

    async def since(self, user_id: str, since: datetime | None, limit: int) -> list[DerivedBlob]:
        query: dict[str, Any] = {"user_id": user_id}
        if since is not None:
            query["created_at"] = {"$gt": since}
        cursor = self._collection.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return [_blob(d) for d in await cursor.to_list(limit)]

    async def for_parent(self, user_id: str, parent_id: str) -> list[DerivedBlob]:
        return [
            _blob(d)
            for d in await self._collection.find({"user_id": user_id, "parent_blob_id": parent_id}).to_list(None)
        ]

    async def delete(self, user_id: str, ids: list[str]) -> int:
        if not ids:
            return 0
        result = await self._collection.delete_many({"_id": {"$in": ids}, "user_id": user_id})
        return int(result.deleted_count)
