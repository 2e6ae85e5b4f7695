"""A local OpenAI-compatible server for tests and benchmarks: the real `openai` client talks to it over HTTP.

The paid model API is the one part of the federation that is stood in for; everything else is real.
It behaves like a hosted model where that matters to the federation: completions take time
(`first_token_seconds`, then `tokens_per_second`), streams arrive as Server-Sent Events one token
at a time, a stream can break midway, and a request can be refused with 429 and `Retry-After`.
A token here is a word with the space after it (hosted models average about 0.75 words a token).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from processors.text_expansion.offline import expand

from .harness import ROOT, free_port

_TOKEN = re.compile(r"\S+\s*")
_FIELDS = re.compile(r"fields ((?:[a-z_]+, )*[a-z_]+) and ([a-z_]+)")


@dataclass
class FakeProvider:
    """What the fake answers: `fail_next` errors first, every call an error while `down`."""

    fail_next: int = 0
    down: bool = False
    model: str = "fake-model"
    delay: float = 0.0  # seconds a non-streamed completion takes on top of its tokens
    first_token_seconds: float = 0.0  # time to first token, streamed or not
    tokens_per_second: float = 0.0  # 0: all tokens at once
    break_next: int = 0  # the next N streams stop midway, as a dropped connection does
    rate_limit_next: int = 0  # the next N requests are refused with 429 and `Retry-After`
    retry_after: float = 1.0
    calls: int = 0
    prompts: list[list[dict[str, Any]]] = field(default_factory=list)
    streams_started: int = 0
    streams_finished: int = 0
    streams_aborted: int = 0  # the client went away before the end
    streams_broken: int = 0
    streaming_now: int = 0
    most_streaming: int = 0  # the most streams open at one time
    # (time.monotonic(), what happened) for each request: "ok", "429", "500"
    log: list[tuple[float, str]] = field(default_factory=list)

    def _tokens(self, body: dict[str, Any]) -> list[str]:
        """The answer, a token a word: the draft expanded; a JSON object of the fields the system
        prompt names when one is asked for; never more than `max_tokens`, as a hosted model."""
        draft = str(body["messages"][-1]["content"])
        if (body.get("response_format") or {}).get("type") == "json_object":
            named = _FIELDS.search(str(body["messages"][0]["content"]))
            fields = [*named.group(1).split(", "), named.group(2)] if named else ["text"]
            words = expand(draft[:400], "creative").split()
            tokens = _TOKEN.findall(
                json.dumps({f: " ".join(words[n * 12 : n * 12 + 40]) for n, f in enumerate(fields)})
            )
        else:
            tokens = _TOKEN.findall(expand(draft, "creative"))
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        return tokens[:limit] if isinstance(limit, int) and limit > 0 else tokens

    async def _pace(self, started: float, index: int) -> None:
        """Sleep until token `index` is due."""
        due = started + self.first_token_seconds + (index / self.tokens_per_second if self.tokens_per_second else 0.0)
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        body = await request.json()
        self.prompts.append(body["messages"])
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.log.append((time.monotonic(), "429"))
            return web.json_response(
                {"error": {"message": "rate limit reached", "type": "rate_limit_error"}},
                status=429,
                headers={"Retry-After": f"{self.retry_after:g}"},
            )
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            self.log.append((time.monotonic(), "500"))
            return web.json_response({"error": {"message": "upstream overloaded", "type": "server_error"}}, status=500)
        self.log.append((time.monotonic(), "ok"))
        if body.get("stream"):
            return await self._stream(request, body)
        started = time.monotonic()
        tokens = self._tokens(body)
        await self._pace(started, len(tokens))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(
            {
                "id": f"chatcmpl-{self.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "".join(tokens)}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 40, "completion_tokens": 120, "total_tokens": 160},
            }
        )

    def _chunk(
        self, number: int, delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None
    ) -> bytes:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        chunk = {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }
        return f"data: {json.dumps(chunk)}\n\n".encode()

    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        """Server-Sent Events, one token a chunk, at the configured pace."""
        number = self.calls
        self.streams_started += 1
        tokens = self._tokens(body)
        breaks_at = len(tokens) // 2 if self.break_next > 0 else None
        if breaks_at is not None:
            self.break_next -= 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        started = time.monotonic()
        self.streaming_now += 1
        self.most_streaming = max(self.most_streaming, self.streaming_now)
        try:
            await response.prepare(request)
            await response.write(self._chunk(number, {"role": "assistant", "content": ""}))
            for index, token in enumerate(tokens):
                if index == breaks_at:
                    self.streams_broken += 1
                    await asyncio.sleep(0.05)  # what was written reaches the client first
                    if request.transport is not None:
                        request.transport.abort()  # the connection drops mid-answer
                    return response
                await self._pace(started, index)
                await response.write(self._chunk(number, {"content": token}))
            await response.write(self._chunk(number, {}, finish="stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {"prompt_tokens": 40, "completion_tokens": len(tokens), "total_tokens": 40 + len(tokens)}
                await response.write(self._chunk(number, {}, usage=usage))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            self.streams_finished += 1
        except (ConnectionResetError, ConnectionError):
            self.streams_aborted += 1
        except asyncio.CancelledError:
            self.streams_aborted += 1
            raise
        finally:
            self.streaming_now -= 1
        return response

    def reset(self) -> None:
        """Back to a provider that answers everything, counters at zero; the pace is kept."""
        self.fail_next = self.break_next = self.rate_limit_next = 0
        self.down = False
        self.calls = self.streams_started = self.streams_finished = self.streams_aborted = self.streams_broken = 0
        self.most_streaming = 0
        self.prompts.clear()
        self.log.clear()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.completions)
        return app


class ThreadedProvider:
    """The fake provider on its own event loop in a thread, for fixtures that outlive a test's loop."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self.provider.app())
        self._loop.run_until_complete(runner.setup())
        self.port = free_port()
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def start(self) -> ThreadedProvider:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def provider_process(
    port: int, log: Path | None = None, *, tokens_per_second: float = 50, first_token_seconds: float = 0.4
) -> subprocess.Popen[bytes]:
    """The simulated provider as a process of its own, so that it never shares a benchmark's event loop."""
    argv = [
        sys.executable,
        "-m",
        "studio_testing.fake_openai",
        "--port",
        str(port),
        "--tokens-per-second",
        str(tokens_per_second),
        "--first-token-seconds",
        str(first_token_seconds),
    ]
    errors = open(log, "wb") if log is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
    finally:
        if log is not None:
            errors.close()  # type: ignore[union-attr]


def main() -> None:
    """`python -m studio_testing.fake_openai --port N --tokens-per-second 50 --first-token-seconds 0.4`:
    a process of its own."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    parser.add_argument("--first-token-seconds", type=float, default=0.4)
    args = parser.parse_args()
    provider = FakeProvider(tokens_per_second=args.tokens_per_second, first_token_seconds=args.first_token_seconds)
    web.run_app(provider.app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
