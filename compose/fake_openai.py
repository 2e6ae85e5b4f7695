"""A local OpenAI-compatible server for tests and benchmarks: the real `openai` client talks to it over HTTP.

The paid model API is the one part of the federation that is stood in for; everything else is real.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from processors.text_expansion.offline import expand

from .harness import free_port


@dataclass
class FakeProvider:
    """What the fake answers: `fail_next` errors first, every call an error while `down`."""

    fail_next: int = 0
    down: bool = False
    model: str = "fake-model"
    delay: float = 0.0  # seconds a completion takes, like a real model's latency
    calls: int = 0
    prompts: list[list[dict[str, Any]]] = field(default_factory=list)

    async def completions(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.json()
        self.prompts.append(body["messages"])
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            return web.json_response({"error": {"message": "upstream overloaded", "type": "server_error"}}, status=500)
        if self.delay:
            await asyncio.sleep(self.delay)
        draft = body["messages"][-1]["content"]
        content = expand(draft, "creative")
        return web.json_response(
            {
                "id": f"chatcmpl-{self.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 120, "total_tokens": 160},
            }
        )

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
