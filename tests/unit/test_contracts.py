"""Schemas, Structs and the validator cache, without any server."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from contracts.compat import incompatibilities
from contracts.data import EXTRA_FIELDS, PAYLOADS
from contracts.validation import InvalidSchema, ValidatorCache, builtin_schemas, check_schema, schemas_in

OWNERS = ("processors.text_expansion", "processors.book_compiler", "processors.pitch_builder")

# The core's schemas and every in-tree processor's own.
SCHEMAS = {**builtin_schemas(), **{k: v for p in OWNERS for k, v in schemas_in(p).items()}}
JSON_TYPES: dict[type, str] = {
    msgspec.inspect.StrType: "string",
    msgspec.inspect.IntType: "integer",
    msgspec.inspect.FloatType: "number",
    msgspec.inspect.BoolType: "boolean",
    msgspec.inspect.StructType: "object",
    msgspec.inspect.DictType: "object",
    msgspec.inspect.ListType: "array",
}


def _non_null(t: msgspec.inspect.Type) -> list[msgspec.inspect.Type]:
    options = t.types if isinstance(t, msgspec.inspect.UnionType) else (t,)
    return [o for o in options if not isinstance(o, msgspec.inspect.NoneType)]


def _compare(json_schema: dict[str, Any], struct: type[msgspec.Struct], path: str) -> None:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    fields = {f.encode_name: f for f in info.fields}
    props = json_schema.get("properties", {})
    assert set(props) == set(fields) - EXTRA_FIELDS.get(struct, frozenset()), f"{path}: properties differ"
    required = {f.encode_name for f in info.fields if f.required}
    assert set(json_schema.get("required", [])) == required, f"{path}: required differs"
    for name, prop in props.items():
        types = _non_null(fields[name].type)
        assert {JSON_TYPES[type(t)] for t in types} == {prop["type"]}, f"{path}/{name}: type differs"
        nested = [t for t in types if isinstance(t, msgspec.inspect.StructType)]
        if nested and "properties" in prop:
            _compare(prop, nested[0].cls, f"{path}/{name}")
        items = [t.item_type for t in types if isinstance(t, msgspec.inspect.ListType)]
        if items and "properties" in prop.get("items", {}):
            assert isinstance(items[0], msgspec.inspect.StructType), f"{path}/{name}: items are not a Struct"
            _compare(prop["items"], items[0].cls, f"{path}/{name}[]")


@pytest.mark.parametrize("schema_id", sorted(PAYLOADS))
def test_schema_and_struct_agree(schema_id: str) -> None:
    _compare(SCHEMAS[schema_id], PAYLOADS[schema_id], schema_id)


def test_the_drift_check_catches_a_retyped_field() -> None:
    class Retyped(msgspec.Struct):
        content: int
        metadata: dict[str, Any] | None = None
        provenance: list[dict[str, Any]] | None = None

    with pytest.raises(AssertionError, match="type differs"):
        _compare(SCHEMAS["text-input-v1"], Retyped, "retyped")


@pytest.mark.parametrize("schema_id", sorted(SCHEMAS))
def test_examples_validate_and_decode(schema_id: str) -> None:
    cache = ValidatorCache()
    cache.put(schema_id, SCHEMAS[schema_id])
    assert SCHEMAS[schema_id]["examples"], "every schema carries examples"
    for example in SCHEMAS[schema_id]["examples"]:
        assert cache.validate(schema_id, example) == []
        msgspec.convert(example, PAYLOADS[schema_id])


def test_builtin_schemas_are_the_seeds() -> None:
    text = SCHEMAS["text-input-v1"]
    assert text["required"] == ["content"]
    assert text["properties"]["content"] == {"type": "string", "minLength": 10, "maxLength": 50000}
    assert text["properties"]["metadata"]["properties"]["style"]["enum"] == ["formal", "casual", "creative"]
    expanded = SCHEMAS["expanded-text-v1"]
    assert expanded["required"] == ["original", "expanded", "expansion_ratio"]
    assert expanded["properties"]["expansion_ratio"]["minimum"] == 1.0


def test_every_error_has_a_pointer() -> None:
    cache = ValidatorCache()
    cache.put("text-input-v1", SCHEMAS["text-input-v1"])
    errors = cache.validate("text-input-v1", {"metadata": {"chapter": "one", "style": "loud"}}, prefix="/data")
    assert sorted(e.pointer for e in errors) == ["/data/content", "/data/metadata/chapter", "/data/metadata/style"]
    too_short = cache.validate("text-input-v1", {"content": "short"})
    assert [e.pointer for e in too_short] == ["/content"]


def test_pointer_escapes_slashes_and_tildes() -> None:
    schema = {"type": "object", "properties": {"a/b": {"type": "object", "properties": {"c~d": {"type": "integer"}}}}}
    cache = ValidatorCache()
    cache.put("odd-v1", schema)
    assert [e.pointer for e in cache.validate("odd-v1", {"a/b": {"c~d": "x"}})] == ["/a~1b/c~0d"]


def test_a_schema_must_describe_an_object() -> None:
    with pytest.raises(InvalidSchema):
        check_schema({"type": "string"})
    with pytest.raises(InvalidSchema):
        check_schema({"type": "object", "properties": {"a": {"type": "no-such-type"}}})


BASE = SCHEMAS["text-input-v1"]


def _with(**changes: Any) -> dict[str, Any]:
    import copy

    schema = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = schema
        *parents, leaf = path.split("__")
        for key in parents:
            node = node[key]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return schema


def test_adding_an_optional_property_is_compatible() -> None:
    new = _with(properties__summary={"type": "string"}, description="now with summaries")
    assert incompatibilities(BASE, new) == []


@pytest.mark.parametrize(
    "change",
    [
        {"properties__content__type": "integer"},  # retyped
        {"properties__metadata": None},  # removed
        {"required": ["content", "metadata"]},  # newly required
        {"properties__metadata__properties__style__enum": ["formal"]},  # enum changed
        {"properties__content__maxLength": 100},  # bound changed
        {"additionalProperties": False},  # tightened
    ],
)
def test_breaking_changes_are_refused(change: dict[str, Any]) -> None:
    assert incompatibilities(BASE, _with(**change)), change
