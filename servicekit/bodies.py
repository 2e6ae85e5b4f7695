"""JSON in and out: typed decoding with a depth limit, and msgspec-encoded responses."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from contracts.problems import FieldError

from .errors import MalformedJson, TooDeep, Unprocessable

T = TypeVar("T")

_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.S)
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")
_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")

_ENCODER = msgspec.json.Encoder()


def pointer_from_path(path: str) -> str:
    """`$.data.items[2]` -> `/data/items/2`."""
    return "".join("/" + (key or index).replace("~", "~0").replace("/", "~1") for key, index in _TOKEN.findall(path[1:]))


def field_error(exc: msgspec.ValidationError) -> FieldError:
    """Turn msgspec's message into a JSON pointer and a detail."""
    match = _AT.match(str(exc))
    assert match is not None
    message, at = match.group("message"), match.group("path") or "$"
    where = pointer_from_path(at)
    missing = _MISSING.search(message)
    if missing:
        where += "/" + missing.group("name")
    return FieldError(pointer=where, detail=message)


def depth_of(value: Any, limit: int) -> int:
    """Nesting depth of decoded JSON, counting no further than `limit` + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, msgspec.Struct):
            children: Any = [getattr(item, f) for f in item.__struct_fields__]
            level -= 1  # a Struct's fields sit at the level of the object it was decoded from
        elif isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


class BodyReader:
    """Decodes request bodies into Structs; one decoder per model, built on first use."""

    def __init__(self, *, max_depth: int) -> None:
        self.max_depth = max_depth
        self._decoders: dict[type, msgspec.json.Decoder[Any]] = {}
        self._untyped: msgspec.json.Decoder[Any] = msgspec.json.Decoder()

    def decoder(self, model: type[T]) -> msgspec.json.Decoder[T]:
        found = self._decoders.get(model)
        if found is None:
            found = self._decoders[model] = msgspec.json.Decoder(model)
        return found

    def decode(self, raw: bytes, model: type[T]) -> T:
        """Decode and validate `raw`; raise the service error that fits what is wrong.

        The body is parsed untyped first so that nesting is checked everywhere, fields the model
        ignores included, before the typed conversion reports field errors with pointers.
        """
        if not raw.strip():
            raise MalformedJson("the request needs a JSON body")
        try:
            value = self._untyped.decode(raw)
        except RecursionError:
            raise TooDeep(f"JSON may nest at most {self.max_depth} levels") from None
        except msgspec.DecodeError as exc:
            raise MalformedJson(str(exc)) from None
        if depth_of(value, self.max_depth) > self.max_depth:
            raise TooDeep(f"JSON may nest at most {self.max_depth} levels")
        try:
            return msgspec.convert(value, model)
        except msgspec.ValidationError as exc:
            raise Unprocessable("the body does not match the request's shape", errors=[field_error(exc)]) from None

    async def read(self, request: web.Request, model: type[T]) -> T:
        # aiohttp enforces client_max_size while reading and raises 413 past it.
        return self.decode(await request.read(), model)


def json_response(value: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A response whose body is `value` encoded by msgspec."""
    return web.Response(body=_ENCODER.encode(value), status=status, content_type="application/json", headers=headers)


def encode(value: Any) -> bytes:
    return _ENCODER.encode(value)
