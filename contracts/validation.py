"""Compile each JSON Schema once and report every failure with a JSON pointer."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from .problems import FieldError

_REQUIRED = re.compile(r"^'(?P<name>.+)' is a required property$")


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(path: Iterable[object], prefix: str = "") -> str:
    """Render a path of keys and indexes as an RFC 6901 JSON pointer."""
    return prefix + "".join("/" + _escape(p) for p in path)


class InvalidSchema(ValueError):
    """The document is not a usable JSON Schema."""


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise InvalidSchema unless `schema` is a valid draft-07 schema of an object."""
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidSchema(exc.message) from exc
    if schema.get("type") != "object":
        raise InvalidSchema('a blob schema must describe an object ("type": "object")')


class ValidatorCache:
    """Schema id -> compiled validator; compiling happens once per (id, revision)."""

    def __init__(self) -> None:
        self._validators: dict[str, tuple[int, jsonschema.Draft7Validator]] = {}

    def put(self, schema_id: str, schema: Mapping[str, Any], revision: int = 1) -> None:
        current = self._validators.get(schema_id)
        if current is not None and current[0] >= revision:
            return
        check_schema(schema)
        self._validators[schema_id] = (revision, jsonschema.Draft7Validator(schema))

    def __contains__(self, schema_id: object) -> bool:
        return schema_id in self._validators

    def revision(self, schema_id: str) -> int | None:
        entry = self._validators.get(schema_id)
        return entry[0] if entry else None

    def validate(self, schema_id: str, instance: Any, *, prefix: str = "") -> list[FieldError]:
        """Every failure of `instance` against `schema_id`, pointers prefixed by `prefix`."""
        validator = self._validators[schema_id][1]
        if validator.is_valid(instance):
            return []
        errors = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
            path = list(error.absolute_path)
            if error.validator == "required":
                match = _REQUIRED.match(error.message)
                if match:
                    path.append(match.group("name"))
            errors.append(FieldError(pointer=pointer(path, prefix), detail=error.message))
        return errors


def schemas_in(package: str) -> dict[str, dict[str, Any]]:
    """The schemas a package ships in its `schemas/` directory, by id (none if it has no such directory)."""
    found: dict[str, dict[str, Any]] = {}
    directory = resources.files(package).joinpath("schemas")
    if not directory.is_dir():
        return found
    for entry in directory.iterdir():
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text(encoding="utf-8"))
            found[schema["$id"]] = schema
    return found


def builtin_schemas() -> dict[str, dict[str, Any]]:
    """The core's schemas (user input), shipped in contracts/schemas; processors ship their own."""
    return schemas_in(__package__ or "contracts")
