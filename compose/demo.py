"""A demo book loaded through the public API, so a new user has something to look at."""

from __future__ import annotations

from typing import Any

import aiohttp

from contracts.validation import builtin_schemas

DEMO_USER = "demo-writer"
DEMO_BOOK = "the-lighthouse-keeper"
DEMO_TITLE = "The Lighthouse Keeper"
CHAPTERS = [
    (
        "The Letter",
        "formal",
        "The letter arrived on a Tuesday, stamped twice and smelling of salt. Mara read it standing in the doorway. "
        "Her uncle had left her the lighthouse on Gull Point, and with it a ledger of ships that never came home.",
    ),
    (
        "Gull Point",
        "creative",
        "The ferry left her at the end of a shingle spit. The tower leaned a little into the wind, white paint "
        "peeling like birch bark. Inside, the lamp room was clean, as if someone had climbed the stairs that morning.",
    ),
    (
        "The Ledger",
        "casual",
        "Every entry ended the same way: a ship's name, a date, and a small drawing of a bell. The last page was "
        "blank except for tomorrow's date, written in her uncle's careful hand.",
    ),
]


async def load_demo(gateway_url: str, token: str) -> dict[str, Any]:
    """Create the demo book and its three chapter drafts unless the book already exists."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=gateway_url, headers=headers) as session:
        async with session.get(f"/api/v1/users/{DEMO_USER}/books") as response:
            response.raise_for_status()
            books = (await response.json())["books"]
        if any(book["book_id"] == DEMO_BOOK for book in books):
            return {"created": False, "book_id": DEMO_BOOK}
        body = {"id": DEMO_BOOK, "title": DEMO_TITLE, "description": "A demo book of three chapters."}
        async with session.post(f"/api/v1/users/{DEMO_USER}/books", json=body) as response:
            response.raise_for_status()
        ids = []
        for number, (title, style, content) in enumerate(CHAPTERS, start=1):
            metadata = {"book_id": DEMO_BOOK, "chapter": number, "title": title, "style": style}
            draft = {"schema_id": "text-input-v1", "data": {"content": content, "metadata": metadata}}
            async with session.post("/api/v1/blobs", json=draft) as response:
                response.raise_for_status()
                ids.append((await response.json())["id"])
        # And pitch notes for the book: the pitch builder turns them into a one-pager.
        pitch = builtin_schemas()["pitch-input-v1"]["examples"][0]
        async with session.post("/api/v1/blobs", json={"schema_id": "pitch-input-v1", "data": pitch}) as response:
            response.raise_for_status()
        return {"created": True, "book_id": DEMO_BOOK, "draft_ids": ids}
