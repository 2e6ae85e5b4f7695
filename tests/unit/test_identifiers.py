"""The identifier grammar, URL paths from encoded segments, request ids, the WebSocket mask guard."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.ids import is_id, is_schema_id
from gateway.live.masking import MaskedFramesOnly, frame_header
from servicekit.middleware import request_id_from
from servicekit.urls import upstream_url, url_path


@pytest.mark.parametrize("value", ["a", "u-123", "A_b-9", "x" * 128, "0abc"])
def test_valid_ids(value: str) -> None:
    assert is_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-a",
        "_a",
        "a/b",
        "a.b",
        "..",
        "a?b",
        "a#b",
        "a%2Fb",
        "a\x00",
        "a\n",
        "a b",
        "x" * 129,
        "\u0430bc",
        "\uff41",
        5,
        None,
    ],
)
def test_invalid_ids(value: Any) -> None:
    assert not is_id(value)


def test_schema_ids() -> None:
    assert is_schema_id("text-input-v1") and is_schema_id("a-v10")
    assert not is_schema_id("Text-input-v1") and not is_schema_id("text-input") and not is_schema_id("text-input-v1\n")


def test_url_paths_encode_every_segment_whole() -> None:
    assert url_path("api", "v1", "blobs", "a/../b?user_id=x#y") == "/api/v1/blobs/a%2F..%2Fb%3Fuser_id%3Dx%23y"
    assert url_path("users", "%2F") == "/users/%252F"
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError):
            url_path("api", bad)
    url = upstream_url("http://127.0.0.1:8006/", url_path("api", "blobs", "..%2Fx"))
    assert url.raw_path == "/api/blobs/..%252Fx"


def test_request_ids_are_plain_tokens_or_new() -> None:
    assert request_id_from("abc-123") == "abc-123"
    for odd in ("a\r\nX-Evil: 1", "x" * 200, "", None, "a b"):
        made = request_id_from(odd)
        assert made != odd and len(made) == 32


def frame(payload: bytes, *, masked: bool) -> bytes:
    length = len(payload)
    if length < 126:
        head = bytes([0x81, (0x80 if masked else 0) | length])
    else:
        head = bytes([0x81, (0x80 if masked else 0) | 126]) + length.to_bytes(2, "big")
    return head + (b"\x01\x02\x03\x04" if masked else b"") + payload


class Recorder:
    def __init__(self) -> None:
        self.fed = b""
        self.exception: BaseException | None = None

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""

    def set_exception(self, exc: BaseException) -> None:
        self.exception = exc


def test_frame_headers() -> None:
    assert frame_header(b"\x81") is None
    assert frame_header(frame(b"abc", masked=True)) == (6, True, 3)
    assert frame_header(frame(b"x" * 300, masked=False)) == (4, False, 300)


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_masked_frames_pass_in_any_chunking_and_an_unmasked_one_fails_the_socket(chunk: int) -> None:
    inner = Recorder()
    guard = MaskedFramesOnly(inner, inner)
    stream = frame(b"a" * 10, masked=True) + frame(b"b" * 300, masked=True) + frame(b"c", masked=True)
    for start in range(0, len(stream), chunk):
        assert guard.feed_data(stream[start : start + chunk]) == (False, b"")
    assert inner.fed == stream and inner.exception is None
    eof, _ = guard.feed_data(frame(b"d", masked=False))
    assert eof and inner.exception is not None and getattr(inner.exception, "code", None) == 1002
