"""The one grammar of every identifier, checked wherever an identifier enters a service.

Blob ids, book ids, user ids (a token's `sub` included) and processor ids share one grammar:
1-128 ASCII letters, digits, `_` or `-`, starting with a letter or digit. Schema ids are
`<name>-v<major>` in lower case. Neither admits `/`, `.`, `?`, `#`, `%`, whitespace, NUL or
anything outside ASCII, so an id can never change the shape of a URL path, a query or a NATS
subject, and unicode look-alikes of a valid id are simply not ids.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

# `\Z`, not `$`: `$` also matches before a trailing newline.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z"
SCHEMA_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,100}-v[0-9]{1,4}\Z"
ID_RULE = "1-128 letters, digits, '_' or '-', starting with a letter or digit"
SCHEMA_ID_RULE = "a lower-case name and a major version, like text-input-v1"

Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
SchemaId = Annotated[str, msgspec.Meta(pattern=SCHEMA_ID_PATTERN)]

_ID = re.compile(ID_PATTERN)
_SCHEMA_ID = re.compile(SCHEMA_ID_PATTERN)


def is_id(value: object) -> bool:
    """A blob, book, user or processor id?"""
    return isinstance(value, str) and _ID.match(value) is not None


def is_schema_id(value: object) -> bool:
    return isinstance(value, str) and _SCHEMA_ID.match(value) is not None


# The names identifiers go by in paths (`{uid}`) and query strings (`?user_id=`), and their grammar.
PATH_PARAMETERS = {
    "uid": is_id,
    "blob_id": is_id,
    "book_id": is_id,
    "processor_id": is_id,
    "schema_id": is_schema_id,
}
QUERY_PARAMETERS = {
    "user_id": is_id,
    "book_id": is_id,
    "parent_id": is_id,
    "processor_id": is_id,
    "schema_id": is_schema_id,
}
