"""One way to open MongoDB for every service that keeps its data there."""

from __future__ import annotations

from typing import Any

from bson.codec_options import TypeDecoder, TypeRegistry
from bson.int64 import Int64
from pymongo import AsyncMongoClient


class _PlainInt64(TypeDecoder):
    """Read 64-bit integers back as plain `int`: `Int64` is a subclass msgspec will not encode,
    so a stored integer past 2**31 would otherwise break every read of its document."""

    bson_type = Int64

    def transform_bson(self, value: Any) -> int:
        return int(value)


def mongo_client(url: str, *, appname: str, timeout_ms: int = 10_000) -> AsyncMongoClient[dict[str, Any]]:
    """A client with timezone-aware datetimes and plain integers."""
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        appname=appname,
        type_registry=TypeRegistry([_PlainInt64()]),
    )
