"""Request bodies: malformed, too deep, wrong shape; pointers into the body."""

from __future__ import annotations

import pytest

from contracts.models import CreateBlob, UpdateBlob
from servicekit.bodies import BodyReader, check_value, pointer_from_path
from servicekit.errors import MalformedJson, TooDeep, Unprocessable, Unstorable

reader = BodyReader(max_depth=8)


def test_a_valid_body_decodes() -> None:
    body = reader.decode(b'{"schema_id": "text-input-v1", "data": {"content": "x"}}', CreateBlob)
    assert body.schema_id == "text-input-v1" and body.data == {"content": "x"}


@pytest.mark.parametrize("raw", [b"", b"   ", b"{", b'{"a": }', b"\xff\xfe"])
def test_malformed_json_is_400(raw: bytes) -> None:
    with pytest.raises(MalformedJson):
        reader.decode(raw, CreateBlob)


@pytest.mark.parametrize("depth", [9, 50, 5000])
def test_deep_json_is_refused_wherever_it_is(depth: int) -> None:
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    with pytest.raises(TooDeep):
        reader.decode(b'{"schema_id": "text-input-v1", "data": {}, "ignored": ' + nested + b"}", CreateBlob)


def test_depth_counts_objects_and_arrays() -> None:
    check_value(1, max_depth=0)
    check_value({"a": [1, {"b": 2}]}, max_depth=3)
    with pytest.raises(TooDeep):
        check_value({"a": [1, {"b": 2}]}, max_depth=2)
    with pytest.raises(TooDeep):  # too deep wins over unstorable: nothing more is read
        check_value({"a": "\x00", "b": [[[[1]]]]}, max_depth=3)
    with pytest.raises(Unstorable):
        check_value([[2**63]], max_depth=3)


def test_shape_errors_point_at_the_field() -> None:
    with pytest.raises(Unprocessable) as missing:
        reader.decode(b'{"data": {}}', CreateBlob)
    assert missing.value.errors is not None and missing.value.errors[0].pointer == "/schema_id"
    with pytest.raises(Unprocessable) as wrong:
        reader.decode(b'{"data": {}, "version": "3"}', UpdateBlob)
    assert wrong.value.errors is not None and wrong.value.errors[0].pointer == "/version"


def test_pointer_from_msgspec_paths() -> None:
    assert pointer_from_path("$") == ""
    assert pointer_from_path("$.data.items[2].name") == "/data/items/2/name"


def test_values_no_store_can_hold_are_found_with_pointers() -> None:
    from servicekit.bodies import unstorable

    found = unstorable(
        {"a": [1, 2**63], "b\x00": "ok", "c": {"d": "x\x00"}, "e": -(2**63), "f": 1.5, "g": True}, "/data"
    )
    assert [e.pointer for e in found] == ["/data/a/1", "/data/b\x00", "/data/c/d"]
    with pytest.raises(Unprocessable) as refused:
        reader.decode(b'{"schema_id": "text-input-v1", "data": {"content": "a\\u0000b"}}', CreateBlob)
    assert refused.value.errors is not None and refused.value.errors[0].pointer == "/data/content"


@pytest.mark.parametrize("raw", [b'{"a": "\xff"}', b'{"a": 1e400}'])
def test_undecodable_text_and_numbers_are_400(raw: bytes) -> None:
    with pytest.raises(MalformedJson):
        reader.decode(raw, CreateBlob)
