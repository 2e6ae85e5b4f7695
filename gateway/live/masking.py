"""RFC 6455 §5.1: a server must close the connection (1002) on a client frame that is not masked.

aiohttp's frame reader unmasks what is masked and accepts what is not. `MaskedFramesOnly` sits in
front of it: it follows frame boundaries in the raw bytes (headers only, payloads are skipped)
and, at the first unmasked client frame, fails the socket with a protocol error, which aiohttp
answers with a close frame carrying 1002.
"""

from __future__ import annotations

from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

MAX_HEADER = 14  # 2 + 8 (extended length) + 4 (mask key)


def frame_header(raw: bytes) -> tuple[int, bool, int] | None:
    """(header length, masked, payload length) once `raw` holds a whole frame header, else None."""
    if len(raw) < 2:
        return None
    masked, flag = bool(raw[1] & 0x80), raw[1] & 0x7F
    extended = 2 if flag == 126 else 8 if flag == 127 else 0
    size = 2 + extended + (4 if masked else 0)
    if len(raw) < size:
        return None
    length = int.from_bytes(raw[2 : 2 + extended], "big") if extended else flag
    return size, masked, length


class MaskedFramesOnly:
    """A parser in front of aiohttp's WebSocket reader that refuses unmasked frames."""

    def __init__(self, inner: Any, queue: Any) -> None:
        self._inner = inner
        self._queue = queue
        self._header = b""
        self._skip = 0
        self._failed = False

    def feed_eof(self) -> None:
        self._inner.feed_eof()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._failed:
            return True, b""
        position, end = 0, len(data)
        while position < end:
            if self._skip:
                step = min(self._skip, end - position)
                self._skip -= step
                position += step
                continue
            chunk = data[position : position + MAX_HEADER - len(self._header)]
            header = frame_header(self._header + chunk)
            if header is None:
                self._header += chunk
                position += len(chunk)
                continue
            size, masked, length = header
            position += size - len(self._header)
            self._header = b""
            if not masked:
                self._failed = True
                self._queue.set_exception(WebSocketError(WSCloseCode.PROTOCOL_ERROR, "client frames must be masked"))
                return True, b""
            self._skip = length
        result: tuple[bool, bytes] = self._inner.feed_data(data)
        return result


class StrictWebSocketResponse(web.WebSocketResponse):
    """A WebSocketResponse whose reader refuses unmasked client frames from the first byte on."""

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        handler: Any = request.protocol
        # Bytes that came with the handshake are fed to the parser when it is set: hold them back
        # so that the guard sees them first.
        tail, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        guard = MaskedFramesOnly(handler._payload_parser, self._reader)
        handler._payload_parser = guard
        if tail:
            guard.feed_data(tail)
