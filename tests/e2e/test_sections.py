"""Keep, discard, regenerate: the writer's say over each section of an expansion, through the
gateway; the spans the model wrote are remembered in the draft and move with later edits."""

from __future__ import annotations

from typing import Any

import aiohttp

from servicekit.auth import issue_token
from studio_testing.fake_openai import ThreadedProvider
from studio_testing.harness import ServiceProcess, Stack
from studio_testing.payloads import draft
from studio_testing.sockets import Socket
from studio_testing.waiting import eventually
from tests.e2e.expanding import fresh, settled

Agg = tuple[Stack, ServiceProcess]
TEXT = "Mara Quist climbed the lighthouse stairs.\n\nThe lamp was cold."


async def chapter(client: aiohttp.ClientSession, user_id: str, book_id: str) -> tuple[str, dict[str, Any]]:
    """A one-chapter book, expanded: the draft's id and the expansion as the book view shows it."""
    async with client.post(f"/api/v1/users/{user_id}/books", json={"id": book_id, "title": "Sections"}) as r:
        assert r.status == 201, await r.text()
    async with client.post("/api/v1/blobs", json=draft(book_id, 1, TEXT)) as r:
        assert r.status == 201, await r.text()
        draft_id = (await r.json())["id"]
    return draft_id, await expansion(client, user_id, book_id)


async def compiled_text(
    client: aiohttp.ClientSession, user_id: str, book_id: str, request: dict[str, str], version: int
) -> str:
    """Compile the book as `request` asks and read version `version` back as plain text."""
    async with client.post(f"/api/v1/users/{user_id}/books/{book_id}/compile", json=request) as r:
        assert r.status == 202, await r.text()

    async def versions() -> list[dict[str, Any]]:
        async with client.get(f"/api/v1/users/{user_id}/books/{book_id}/versions") as r:
            return list((await r.json()).get("versions") or []) if r.status == 200 else []

    await eventually(versions, lambda v: len(v) >= version, what=f"compiled version {version}")
    params = {"format": "txt", "version": str(version)}
    async with client.get(f"/api/v1/users/{user_id}/books/{book_id}/export", params=params) as r:
        assert r.status == 200, await r.text()
        return await r.text()


async def expansion(client: aiohttp.ClientSession, user_id: str, book_id: str) -> dict[str, Any]:
    body = await fresh(client, user_id, book_id)
    return dict(body["chapters"][0]["derived"]["text-expansion"])


async def test_discard_and_regenerate_one_section_leave_the_other_alone(
    agg: Agg, provider: ThreadedProvider, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    draft_id, _ = await chapter(client, user_id, "sections")
    made = (await settled(stack, client, user_id, "sections"))["chapters"][0]["derived"]["text-expansion"]
    first, second = made["data"]["sections"]
    assert (first["original"], second["original"]) == (
        "Mara Quist climbed the lighthouse stairs.",
        "The lamp was cold.",
    )
    socket = Socket(await client.ws_connect("/ws"))
    try:
        await socket.wait_for("ready")
        calls = len(provider.provider.prompts)
        url = f"/api/v1/blobs/{made['id']}/sections/{second['id']}/regenerate"
        async with client.post(url, json={"instruction": "more dialogue"}) as r:
            assert r.status == 202, await r.text()
            assert (await r.json())["section"]["status"] == "regenerating"
        streamed = await socket.wait_for(
            lambda m: m.get("type") == "blob.progress" and m.get("derived_id") == made["id"] and m.get("done")
        )
        assert streamed[0]["section"] == 1  # the second section, alone
        redone = await eventually(
            lambda: expansion(client, user_id, "sections"),
            lambda e: e["data"]["sections"][1].get("instruction") == "more dialogue",
            what="the regenerated section in the expansion",
        )
    finally:
        await socket.ws.close()
    mine = set(TEXT.split("\n\n"))  # other writers' calls (the marker `settled` writes) are left out
    prompts = [p for p in provider.provider.prompts[calls:] if p[-1]["content"] in mine]
    assert [p[-1]["content"] for p in prompts] == ["The lamp was cold."]  # one call, for that section
    assert "more dialogue" in str(prompts[0])
    assert redone["data"]["sections"][0] == first  # the other section untouched
    assert redone["data"]["sections"][1]["id"] == second["id"]  # the same section, written again

    async with client.post(f"/api/v1/blobs/{made['id']}/sections/{first['id']}/discard") as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["section"]["status"] == "discarded"
    discarded = await eventually(
        lambda: expansion(client, user_id, "sections"),
        lambda e: e["data"]["sections"][0]["status"] == "discarded",
        what="the discarded section in the view",
    )
    # The draft's own words stand where the discarded section was.
    assert discarded["data"]["expanded"].startswith("Mara Quist climbed the lighthouse stairs.\n\n")
    assert draft_id


async def test_a_kept_section_becomes_the_drafts_text_and_its_span_moves_with_edits(
    agg: Agg, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    draft_id, _ = await chapter(client, user_id, "keeping")
    made = (await settled(stack, client, user_id, "keeping"))["chapters"][0]["derived"]["text-expansion"]
    second = made["data"]["sections"][1]
    async with client.post(f"/api/v1/blobs/{made['id']}/sections/{second['id']}/keep") as r:
        assert r.status == 200, await r.text()
        kept = await r.json()
    content = kept["data"]["content"]
    assert kept["version"] == 2
    assert content.startswith("Mara Quist climbed the lighthouse stairs.\n\n")
    [span] = kept["data"]["provenance"]
    assert content[span["start"] : span["end"]] == second["text"]
    assert (span["expansion_id"], span["section_id"], span["model"]) == (made["id"], second["id"], "fake-model")

    # The next expansion does not expand the kept prose again: it stands as it is.
    again = await eventually(
        lambda: expansion(client, user_id, "keeping"),
        lambda e: e["status"] == "ok" and e["data"]["original"] == content,
        what="the expansion of the draft with the kept section",
    )
    assert again["data"]["sections"][1]["status"] == "kept"
    assert again["data"]["sections"][1]["text"] == second["text"]
    assert again["data"]["sections"][0]["status"] == "ok"

    # A section of the expansion of version 1, kept now: the draft has moved on. That expansion is
    # replaced by now (404) or about to be (409 draft-moved-on); either way nothing changes.
    async with client.post(f"/api/v1/blobs/{made['id']}/sections/{made['data']['sections'][0]['id']}/keep") as r:
        assert r.status in (404, 409), await r.text()
        assert r.status == 404 or (await r.json())["type"].endswith("draft-moved-on")
    async with client.get(f"/api/v1/blobs/{draft_id}") as r:
        assert (await r.json())["version"] == 2

    # The writer retypes the kept text's first word: it is theirs now; the rest is still the model's.
    first_word = content[span["start"] :].split()[0]
    edited = content[: span["start"]] + "Ah" + content[span["start"] + len(first_word) :]
    body = {"data": {**kept["data"], "content": edited, "provenance": []}, "version": 2}  # a client's spans are ignored
    async with client.put(f"/api/v1/blobs/{draft_id}", json=body) as r:
        assert r.status == 200, await r.text()
        saved = await r.json()
    [moved] = saved["data"]["provenance"]
    assert edited[moved["start"] : moved["end"]] == second["text"][len(first_word) :]
    view = await fresh(client, user_id, "keeping")
    words = len(edited.split())
    ai = len(second["text"].split()) - 1
    assert (view["chapters"][0]["words"], view["chapters"][0]["ai_words"]) == (words, ai)
    assert (view["book"]["words"], view["book"]["ai_words"]) == (words, ai)
    async with client.get(f"/api/v1/users/{user_id}/state") as r:
        state = await r.json()
    [book] = [b for b in state["books"] if b["book_id"] == "keeping"]
    assert (book["words"], book["ai_words"]) == (words, ai)

    # Exports: the model's words as they are by default, marked, or left out (asked at compile).
    model_words = edited[moved["start"] : moved["end"]]
    marked = await compiled_text(client, user_id, "keeping", {"prefer": "draft", "ai": "mark"}, 1)
    assert f"[AI]{model_words}[/AI]" in marked
    left_out = await compiled_text(client, user_id, "keeping", {"prefer": "draft", "ai": "omit"}, 2)
    assert model_words not in left_out and "Mara Quist climbed the lighthouse stairs." in left_out
    plain = await compiled_text(client, user_id, "keeping", {"prefer": "draft"}, 3)
    assert model_words in plain and "[AI]" not in plain


async def test_another_writer_can_touch_no_section_of_mine(
    agg: Agg, client: aiohttp.ClientSession, user_id: str
) -> None:
    stack, _ = agg
    await chapter(client, user_id, "mine")
    made = (await settled(stack, client, user_id, "mine"))["chapters"][0]["derived"]["text-expansion"]
    section = made["data"]["sections"][0]["id"]
    headers = {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user_id + '-x')}"}
    async with aiohttp.ClientSession(base_url=stack.gateway, headers=headers) as theirs:
        for action in ("keep", "discard", "regenerate"):
            async with theirs.post(f"/api/v1/blobs/{made['id']}/sections/{section}/{action}") as r:
                assert r.status == 404, (action, await r.text())
    for path in (
        f"/api/v1/blobs/{made['id']}/sections/nope/keep",
        f"/api/v1/blobs/{made['id']}/sections/..%2F..%2Fx/discard",
        f"/api/v1/blobs/{made['id']}/sections/a%00b/regenerate",
        f"/api/v1/blobs/{'9' * 200}/sections/{section}/keep",
    ):
        async with client.post(path) as r:
            assert r.status in (400, 404, 422), (path, r.status, await r.text())
            assert r.content_type == "application/problem+json"
    async with client.post(
        f"/api/v1/blobs/{made['id']}/sections/{section}/regenerate", json={"instruction": "x" * 501}
    ) as r:
        assert r.status == 422, await r.text()
    after = await expansion(client, user_id, "mine")
    assert after["data"]["sections"][0]["status"] == "ok"  # nothing was changed by any of that
