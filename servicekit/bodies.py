"""JSON in and out: typed decoding with a depth limit, and msgspec-encoded responses."""

from __future__ import annotations

import asyncio
import re
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from contracts.problems import FieldError
from contracts.validation import pointer

from .errors import (
    BodyTimeout,
    ClientGone,
    MalformedJson,
    TooDeep,
    Unprocessable,
    UnreadableBody,
    Unstorable,
    UnsupportedMediaType,
)

T = TypeVar("T")

_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.S)
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")
_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")

_ENCODER = msgspec.json.Encoder()


def pointer_from_path(path: str) -> str:
    """`$.data.items[2]` -> `/data/items/2`."""
    return "".join(
        "/" + (key or index).replace("~", "~0").replace("/", "~1") for key, index in _TOKEN.findall(path[1:])
    )


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


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_UNSTORABLE_REPORTED = 20
_CLEAN, _TOO_DEEP, _UNSTORABLE = 0, 1, 2


def _scan(children: Any, room: int) -> int:
    """One pass over decoded JSON: too deep, unstorable (NUL, an integer past 64 bits), or clean.

    Recursive and type-exact on purpose: it runs on every body, and this is several times faster
    than an explicit stack of paths. Pointers are found by `unstorable` only when needed.
    """
    if room <= 0:
        return _TOO_DEEP
    found = _CLEAN
    for key, child in children.items() if type(children) is dict else enumerate(children):
        if type(key) is str and "\x00" in key:
            found = _UNSTORABLE
        kind = type(child)
        if kind is str:
            if "\x00" in child:
                found = _UNSTORABLE
        elif kind is int:
            if not INT64_MIN <= child <= INT64_MAX:
                found = _UNSTORABLE
        elif kind is dict or kind is list:
            verdict = _scan(child, room - 1)
            if verdict == _TOO_DEEP:
                return verdict
            found = found or verdict
    return found


def check_value(value: Any, *, max_depth: int) -> None:
    """Raise TooDeep past `max_depth` nested objects and arrays, Unstorable for what no store holds."""
    verdict = _scan([value], max_depth + 1)
    if verdict == _TOO_DEEP:
        raise TooDeep(f"JSON may nest at most {max_depth} levels")
    if verdict == _UNSTORABLE:
        problems = unstorable(value)
        raise Unstorable(f"{len(problems)} value(s) cannot be stored", errors=problems)


def unstorable(value: Any, prefix: str = "") -> list[FieldError]:
    """Every place in decoded JSON that no store of the federation can hold, with its pointer.

    MongoDB keeps integers in 64 bits and refuses NUL in keys; PostgreSQL refuses NUL in text.
    A value refused here is refused at the edge, before anything is written anywhere.
    """
    found: list[FieldError] = []
    stack: list[tuple[Any, tuple[object, ...]]] = [(value, ())]
    while stack and len(found) < MAX_UNSTORABLE_REPORTED:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                found.append(FieldError(pointer=pointer(path, prefix), detail="text may not contain the NUL character"))
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                found.append(FieldError(pointer=pointer(path, prefix), detail="integers must fit in 64 bits"))
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    found.append(
                        FieldError(
                            pointer=pointer((*path, key), prefix), detail="keys may not contain the NUL character"
                        )
                    )
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))
    return sorted(found, key=lambda e: e.pointer)


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or any `application/<something>+json`."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


class BodyReader:
    """Decodes request bodies into Structs; one decoder per model, built on first use."""

    def __init__(self, *, max_depth: int, read_timeout: float = 10.0) -> None:
        self.max_depth = max_depth
        self.read_timeout = read_timeout
        self._decoders: dict[type, msgspec.json.Decoder[Any]] = {}
        self._untyped: msgspec.json.Decoder[Any] = msgspec.json.Decoder()

    def decoder(self, model: type[T]) -> msgspec.json.Decoder[T]:
        found = self._decoders.get(model)
        if found is None:
            found = self._decoders[model] = msgspec.json.Decoder(model)
        return found

    def decode(self, raw: bytes | str, model: type[T]) -> T:
        """Decode and validate `raw`; raise the service error that fits what is wrong.

        The body is parsed untyped first so that nesting and storability are checked everywhere,
        fields the model ignores included, before the typed conversion reports field errors with
        pointers.
        """
        if not raw.strip():
            raise MalformedJson("the request needs a JSON body")
        try:
            value = self._untyped.decode(raw)
        except RecursionError:
            raise TooDeep(f"JSON may nest at most {self.max_depth} levels") from None
        except UnicodeDecodeError:
            raise MalformedJson("the body is not valid UTF-8") from None
        except msgspec.ValidationError as exc:  # e.g. a number too large for a float
            raise MalformedJson(str(exc)) from None
        except msgspec.DecodeError as exc:
            raise MalformedJson(str(exc)) from None
        check_value(value, max_depth=self.max_depth)
        try:
            return msgspec.convert(value, model)
        except msgspec.ValidationError as exc:
            raise Unprocessable("the body does not match the request's shape", errors=[field_error(exc)]) from None

    async def read(self, request: web.Request, model: type[T]) -> T:
        """The request's body as `model`: JSON only, read within the read timeout."""
        if "Content-Type" in request.headers and not is_json_media_type(request.content_type):
            raise UnsupportedMediaType(f"send the body as application/json, not {request.content_type}")
        return self.decode(await self.read_bytes(request), model)

    async def read_bytes(self, request: web.Request) -> bytes:
        # aiohttp enforces client_max_size while reading and raises 413 past it.
        try:
            async with asyncio.timeout(self.read_timeout):
                return await request.read()
        except TimeoutError:
            request.content.feed_eof()  # stop waiting for the rest; the connection is closed
            raise BodyTimeout(f"the body did not arrive within {self.read_timeout:g} s") from None
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.IncompleteReadError) as exc:
            raise ClientGone(f"the client went away while sending the body: {exc}") from None
        except Exception as exc:  # a body the transport cannot decode (Content-Encoding, chunking)
            if "Payload" not in type(exc).__name__:
                raise
            # Mark the body finished: otherwise the server's lingering read raises the same error again.
            request.content.feed_eof()
            raise UnreadableBody(f"the body cannot be read: {str(exc).strip() or type(exc).__name__}") from None


def json_response(value: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A response whose body is `value` encoded by msgspec."""
    return web.Response(body=_ENCODER.encode(value), status=status, content_type="application/json", headers=headers)


def encode(value: Any) -> bytes:
    return _ENCODER.encode(value)
