"""A writer's text stays text in every export: injections in every field that reaches a renderer
(drafts, each book metadata field, pitch notes) read no file, fetch no address, run no markup, and
appear in the file as typed. Text with control characters renders in every format."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.readback import every_byte, shown_text, squeezed
from studio_testing.waiting import eventually

BOOK_FORMATS = ("epub", "docx", "pdf", "md", "txt")
PITCH_FORMATS = ("pdf", "docx", "md")
# Control characters a word processor pastes, and others: accepted, then rendered in every format.
CONTROLS = "\u000b\u0007\u0001\u000c\u001b\u007f\u0085\u2028"


class Listener:
    """An address on this machine that records whoever asks it for anything."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.url = ""

    async def __aenter__(self) -> Listener:
        app = web.Application()

        async def anything(request: web.Request) -> web.Response:
            self.asked.append(f"{request.method} {request.path_qs}")
            return web.Response(body=b"\x89PNG\r\n\x1a\nFETCHED-BY-A-RENDERER", content_type="image/png")

        app.router.add_route("*", "/{tail:.*}", anything)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    async with Listener() as running:
        yield running


@pytest.fixture
def canary(tmp_path: Path) -> tuple[Path, str]:
    """A file of this machine that no export may ever hold."""
    secret = f"CANARY-{uuid.uuid4().hex}"
    path = tmp_path / "canary.txt"
    path.write_text(secret)
    path.chmod(0o644)
    return path, secret


def injections(file: Path, url: str, secrets: Path) -> list[str]:
    """What a writer may type that a renderer would take as an instruction (file paths, `file://`,
    `http://` to a listener, raw HTML, Typst, LaTeX, templates)."""
    return [
        f"![img]({file})",
        f'<img src="{file}">',
        f"![fileurl](file://{file})",
        f"![secrets]({secrets})",
        f"![net]({url}/image.png)",
        f'<img src="{url}/raw.png">',
        f'<iframe src="{url}/frame"></iframe>',
        "<script>alert('x')</script>",
        f'<link rel="stylesheet" href="{url}/style.css">',
        f'#image("{file}") #read("{file}") #set text(fill: red)',
        f"\\input{{{file}}} \\include{{{file}}}",
        f"{{{{ config }}}} {{% include '{file}' %}}",
        f"[a link]({url}/link)",
        f'<svg><image href="{url}/svg.png"/></svg>',
        f"@import url({url}/css); --- *kept emphasis*",
    ]


def literal(fmt: str, typed: str) -> str:
    """What `typed` looks like once shown: the writer's own marks (`*emphasis*`) are not shown."""
    return typed.replace("*kept emphasis*", "kept emphasis") if fmt not in ("txt",) else typed


def appears(fmt: str, shown: str, typed: str) -> bool:
    expected = literal(fmt, typed)
    if fmt == "pdf":
        return squeezed(expected) in squeezed(shown)
    return " ".join(expected.split()) in " ".join(shown.split())


def check_file(fmt: str, data: bytes, *, typed: dict[str, str], secret: str, stack: Stack) -> None:
    """No file's content and no secret in any byte; each typed value shown as typed."""
    unpacked = every_byte(data)
    for forbidden in (secret, stack.secrets["service_token"], stack.secrets["jwt_secret"], "FETCHED-BY-A-RENDERER"):
        assert forbidden.encode() not in unpacked, f"{fmt} holds what it must not ({forbidden[:12]}…)"
    shown = shown_text(fmt, data)
    missing = [field for field, value in typed.items() if not appears(fmt, shown, value)]
    assert not missing, f"{fmt} does not show these fields as typed: {missing}"


async def test_injections_in_every_book_field_stay_text_in_every_format(
    stack: Stack, api: aiohttp.ClientSession, user_id: str, listener: Listener, canary: tuple[Path, str]
) -> None:
    file, secret = canary
    tricks = injections(file, listener.url, stack.data_dir / "secrets.json")
    everything = "\n\n".join(tricks)
    short = f"![t]({file}) <b>x</b> #set"
    metadata = {
        "subtitle": short,
        "author": f"Ann <i>{file}</i> Lee",
        "dedication": everything + CONTROLS,
        "front_matter": everything,
        "back_matter": everything,
        "contact": f"Ann Lee\n{tricks[0]}\n{tricks[4]}" + CONTROLS,
    }
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "tricks", "title": f"Salt {short}"}) as response:
        assert response.status == 201
    async with api.patch(f"/api/v1/users/{user_id}/books/tricks", json=metadata) as response:
        assert response.status == 200, await response.text()
    chapter_title = f"Tide ![c]({file}) #pagebreak()"
    async with api.post(
        "/api/v1/blobs", json=draft("tricks", 1, everything + CONTROLS, title=chapter_title)
    ) as response:
        assert response.status == 201, await response.text()
    async with api.post(f"/api/v1/users/{user_id}/books/tricks/compile", json={"prefer": "draft"}) as response:
        assert response.status == 202

    async def compiled() -> int | None:
        async with api.get(f"/api/v1/users/{user_id}/books") as response:
            return {b["book_id"]: b for b in (await response.json())["books"]}["tricks"]["compiled_version"]

    await eventually(compiled, lambda v: v is not None, timeout=60, what="the compiled book")
    # What each format shows: the manuscript's title is in capitals, and its contact block is its own.
    shown_by: dict[str, dict[str, str]] = {}
    for fmt in BOOK_FORMATS:
        typed = {f"trick {n}": t for n, t in enumerate(tricks)}
        typed |= {
            "title": f"Salt {short}",
            "subtitle": short,
            "chapter title": chapter_title,
            "author": metadata["author"],
        }
        if fmt == "docx":
            typed |= {"title": typed["title"].upper(), "contact": tricks[0]}
        shown_by[fmt] = typed
    for fmt in BOOK_FORMATS:
        async with api.get(f"/api/v1/users/{user_id}/books/tricks/export", params={"format": fmt}) as response:
            assert response.status == 200, (fmt, await response.text())
            data = await response.read()
        check_file(fmt, data, typed=shown_by[fmt], secret=secret, stack=stack)
    # Every render is done: had any of them fetched an address, the listener would have heard it.
    assert listener.asked == []


async def test_injections_in_pitch_notes_stay_text_in_every_format(
    stack: Stack, api: aiohttp.ClientSession, listener: Listener, canary: tuple[Path, str]
) -> None:
    file, secret = canary
    tricks = injections(file, listener.url, stack.data_dir / "secrets.json")
    notes: dict[str, Any] = {
        "title": f"Keeper ![t]({file}) **not bold**",
        "logline": f"A logline with {tricks[4]} and {tricks[9]}" + CONTROLS,
        "genre": "mystery <b>#set</b>",
        "tone": "dark",
        "synopsis": "\n\n".join(tricks) + CONTROLS,
        "characters": [{"name": f"Mara *{file}*", "role": "<lead>", "description": tricks[1]}],
        "audience": tricks[5],
        "comparables": [tricks[0], "A _plain_ book"],
        "author_name": "Ann \\input{x}",
        "author_bio": tricks[10] + CONTROLS,
    }
    async with api.post("/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": notes}) as response:
        assert response.status == 201, await response.text()
        notes_id = (await response.json())["id"]

    async def pitch() -> Any:
        async with api.get(f"/api/v1/blobs/{notes_id}") as response:
            return (await response.json())["pitch"]

    await eventually(pitch, lambda p: p is not None, timeout=30, what="the pitch")
    typed = {f"trick {n}": t for n, t in enumerate(tricks)}
    typed |= {
        "title": notes["title"],
        "genre": notes["genre"],
        "name": notes["characters"][0]["name"],
        "role": "<lead>",
    }
    typed |= {
        "comparable": "A _plain_ book",
        "author": notes["author_name"],
        "logline": notes["logline"].rstrip(CONTROLS),
    }
    for fmt in PITCH_FORMATS:
        async with api.get(f"/api/v1/blobs/{notes_id}/export", params={"format": fmt}) as response:
            assert response.status == 200, (fmt, await response.text())
            data = await response.read()
        check_file(fmt, data, typed=typed, secret=secret, stack=stack)
    assert listener.asked == []
