"""Writes and deletes while the index, text expansion and nats-server are killed with -9.

Writers create, edit and delete chapter drafts through the gateway; a fault task kills one part
after another. At rest: no acknowledged write is lost, no acknowledged delete is undone or left
half done, no draft has two expansions, and no chapter is silently `pending`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from servicekit.auth import issue_token
from studio_testing.harness import Stack, running_stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually

pytestmark = pytest.mark.slow
WRITERS = 6
MAX_OPS_PER_WRITER = 2000
LOOP_SECONDS = 20.0
FAULTS = (("index", 3.0), ("text-expansion", 8.0), ("nats", 13.0))


@pytest.fixture(scope="module")
def faulty() -> Iterator[Stack]:
    with running_stack(
        STUDIO_PROCESSORS="text-expansion",
        STUDIO_GATEWAY_PENDING_GRACE_SECONDS="3",
        STUDIO_PROCESSOR_ACK_WAIT_SECONDS="3",
        STUDIO_PROCESSOR_MAX_DELIVER="20",
        STUDIO_PROCESSOR_BACKOFF_SECONDS="0.2,0.5,1",
    ) as stack:
        yield stack


@dataclass
class Ledger:
    """What the gateway acknowledged, and what it answered that we cannot be sure of."""

    live: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # blob -> (user, book, version)
    deleted: dict[str, str] = field(default_factory=dict)  # blob -> user
    uncertain: set[str] = field(default_factory=set)
    acknowledged: int = 0
    refused: int = 0


async def writer(stack: Stack, number: int, user: str, ledger: Ledger, until: float) -> None:
    rng = random.Random(number)
    token = issue_token(stack.secrets["jwt_secret"], user)
    book = f"book-{number}"
    chapter = 0
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(
        base_url=stack.gateway, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    ) as api:
        for _ in range(MAX_OPS_PER_WRITER):
            if time.monotonic() > until:
                return
            mine = [b for b, (u, bk, _) in ledger.live.items() if bk == book and b not in ledger.uncertain]
            roll = rng.random()
            blob = None
            try:
                if mine and roll < 0.2:
                    blob = rng.choice(mine)
                    async with api.delete(f"/api/v1/blobs/{blob}") as response:
                        if response.status == 204:
                            del ledger.live[blob]
                            ledger.deleted[blob] = user
                            ledger.acknowledged += 1
                        else:
                            if response.status >= 500:
                                ledger.uncertain.add(blob)
                            ledger.refused += 1
                elif mine and roll < 0.4:
                    blob = rng.choice(mine)
                    _, _, version = ledger.live[blob]
                    async with api.get(f"/api/v1/blobs/{blob}") as response:
                        if response.status != 200:
                            ledger.refused += 1
                            continue
                        current = await response.json()
                    body = {
                        "data": {**current["data"], "content": f"Edited {version + 1} by writer {number}."},
                        "version": version,
                    }
                    async with api.put(f"/api/v1/blobs/{blob}", json=body) as response:
                        if response.status == 200:
                            ledger.live[blob] = (user, book, version + 1)
                            ledger.acknowledged += 1
                        else:
                            if response.status >= 500:
                                ledger.uncertain.add(blob)
                            ledger.refused += 1
                else:
                    chapter += 1
                    async with api.post(
                        "/api/v1/blobs", json=draft(book, chapter, content=f"Chapter {chapter} of writer {number}.")
                    ) as response:
                        if response.status == 201:
                            ledger.live[(await response.json())["id"]] = (user, book, 1)
                            ledger.acknowledged += 1
                        else:
                            ledger.refused += 1
            except (aiohttp.ClientError, TimeoutError):
                ledger.refused += 1  # not acknowledged; an update or delete in flight may have happened
                if blob is not None:
                    ledger.uncertain.add(blob)
                await asyncio.sleep(0.1)


async def faults(stack: Stack, started: float) -> list[str]:
    done = []
    for name, at in FAULTS:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        info = stack.refresh()
        entry = info["services"].get(name) or info[name]
        os.kill(entry["pid"], signal.SIGKILL)
        done.append(name)
    return done


async def test_kill_9_of_index_processor_and_broker_during_writes_and_deletes(faulty: Stack) -> None:
    stack = faulty
    users = ["fault-a", "fault-b"]
    ledger = Ledger()
    started = time.monotonic()
    until = started + LOOP_SECONDS
    killed, *_ = await asyncio.gather(
        faults(stack, started), *(writer(stack, n, users[n % 2], ledger, until) for n in range(WRITERS))
    )
    assert killed == ["index", "text-expansion", "nats"]
    assert ledger.acknowledged > 50, ledger
    print(
        f"writes acknowledged {ledger.acknowledged}, not acknowledged {ledger.refused}, "
        f"uncertain {len(ledger.uncertain)}, "
        f"live drafts {len(ledger.live)}, acknowledged deletes {len(ledger.deleted)}"
    )

    def restarted() -> bool:
        info = stack.refresh()
        return (
            all(info["services"][n]["restarts"] >= 1 for n in ("index", "text-expansion"))
            and info["nats"]["restarts"] >= 1
        )

    deadline = time.monotonic() + 60
    while not restarted():
        assert time.monotonic() < deadline, "the killed parts were not restarted"
        await asyncio.sleep(0.2)

    service = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with aiohttp.ClientSession(headers=service) as internal:

        async def index_entries(user: str, parent: str) -> list[dict[str, Any]]:
            async with internal.get(
                f"{stack.index}/api/v1/blob-index", params={"user_id": user, "parent_id": parent}
            ) as response:
                assert response.status == 200
                return list((await response.json())["entries"])

        async def stored(user: str) -> list[dict[str, Any]]:
            found, since = [], None
            while True:
                params = {"limit": "500", **({"since": since} if since else {})}
                async with internal.get(f"{stack.text_expansion}/users/{user}/blobs", params=params) as response:
                    page = await response.json()
                found += page["blobs"]
                if not page["next_since"]:
                    return found
                since = page["next_since"]

        async def views() -> dict[str, dict[str, Any]] | None:
            """Every chapter of every writer's book, by draft id; None while the gateway sheds load (a 503
            while the restarted index catches up on the backlog is an answer to retry, not a loss)."""
            chapters = {}
            for number in range(WRITERS):
                token = issue_token(stack.secrets["jwt_secret"], users[number % 2])
                async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as api:
                    async with api.get(
                        f"{stack.gateway}/api/v1/users/{users[number % 2]}/books/book-{number}",
                        headers={"Cache-Control": "no-cache"},
                    ) as response:
                        if response.status == 404:
                            continue
                        if response.status == 503 and response.headers.get("Retry-After"):
                            return None
                        assert response.status == 200, await response.text()
                        for chapter in (await response.json())["chapters"]:
                            chapters[chapter["draft"]["id"] if chapter["draft"] else f"?{chapter['chapter']}"] = chapter
            return chapters

        # At rest: every live chapter's expansion is there and current (pending ones were asked again).
        settled = await eventually(
            views,
            lambda found: found is not None and all(c["status"] == "ok" for c in found.values()),
            timeout=90,
            what="every chapter expanded",
        )
        # 0 acknowledged writes lost (creates and edits), 0 acknowledged deletes undone.
        for blob, (_, _, version) in ledger.live.items():
            if blob in ledger.uncertain:
                continue
            assert blob in settled, f"acknowledged draft {blob} is not in its book"
            assert settled[blob]["draft"]["version"] >= version
        for blob in ledger.deleted:
            assert blob not in settled, f"deleted draft {blob} is back"
        # 0 duplicates and 0 half-deleted drafts, in the index and in text expansion's own store.
        for user in users:
            held: dict[str, int] = {}
            for blob in await stored(user):
                held[blob["parent_blob_id"]] = held.get(blob["parent_blob_id"], 0) + 1
            for blob, (owner, _, _) in ledger.live.items():
                if owner != user or blob in ledger.uncertain:
                    continue
                assert len(await index_entries(user, blob)) == 1, f"draft {blob} has no single expansion in the index"
                assert held.get(blob) == 1, f"draft {blob} has {held.get(blob, 0)} expansions in the store"
            for blob, owner in ledger.deleted.items():
                if owner == user:
                    left = await index_entries(user, blob)
                    assert left == [], f"deleted draft {blob} still has index entries: {left}"
                    assert blob not in held, f"deleted draft {blob} still has an expansion in the store"
        assert all(c["status"] == "ok" for c in settled.values())


async def test_kill_9_of_the_index_in_the_middle_of_48_deletes_leaves_none_half_done(faulty: Stack) -> None:
    """Each draft is, at rest, either untouched with its expansion or gone with it: nothing between."""
    stack = faulty
    user = "fault-deletes"
    token = issue_token(stack.secrets["jwt_secret"], user)
    service = {"Authorization": f"Bearer {stack.secrets['service_token']}"}
    async with (
        aiohttp.ClientSession(base_url=stack.gateway, headers={"Authorization": f"Bearer {token}"}) as api,
        aiohttp.ClientSession(headers=service) as internal,
    ):
        drafts = []
        for chapter in range(1, 49):
            async with api.post("/api/v1/blobs", json=draft("doomed", chapter)) as response:
                assert response.status == 201
                drafts.append((await response.json())["id"])

        async def expanded() -> int:
            async with internal.get(
                f"{stack.index}/api/v1/blob-index", params={"user_id": user, "processor_id": "text-expansion"}
            ) as response:
                return len((await response.json())["entries"])

        await eventually(expanded, lambda n: n == 48, timeout=60, what="48 expansions")
        pid = stack.refresh()["services"]["index"]["pid"]

        async def delete(blob: str) -> int:
            try:
                async with api.delete(f"/api/v1/blobs/{blob}") as response:
                    return response.status
            except aiohttp.ClientError:
                return 0

        deleting = [asyncio.create_task(delete(b)) for b in drafts]
        while sum(t.done() for t in deleting) < 8:  # kill it while the rest are under way
            await asyncio.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
        statuses = await asyncio.gather(*deleting)
        deadline = time.monotonic() + 60
        while stack.refresh()["services"]["index"]["pid"] == pid:
            assert time.monotonic() < deadline, "the index did not come back"
            await asyncio.sleep(0.2)

        async def state() -> dict[str, tuple[int, int, int]]:
            """Per draft: its status, its index entries, its copies in text expansion's store."""
            found = {}
            for blob in drafts:
                async with api.get(f"/api/v1/blobs/{blob}") as response:
                    status = response.status
                async with internal.get(
                    f"{stack.index}/api/v1/blob-index", params={"user_id": user, "parent_id": blob}
                ) as response:
                    entries = len((await response.json())["entries"]) if response.status == 200 else -1
                async with internal.get(
                    f"{stack.text_expansion}/users/{user}/blobs", params={"limit": "500"}
                ) as response:
                    copies = (
                        sum(1 for b in (await response.json())["blobs"] if b["parent_blob_id"] == blob)
                        if response.status == 200
                        else -1
                    )
                found[blob] = (status, entries, copies)
            return found

        whole = {(200, 1, 1), (404, 0, 0)}
        at_rest = await eventually(
            state, lambda s: all(v in whole for v in s.values()), timeout=60, what="every draft whole or gone"
        )
        for blob, status in zip(drafts, statuses, strict=True):
            if status == 204:
                assert at_rest[blob] == (404, 0, 0), f"an acknowledged delete of {blob} is undone: {at_rest[blob]}"
        print(
            f"deletes acknowledged {statuses.count(204)}, refused {len(statuses) - statuses.count(204)}; "
            f"at rest {sum(v == (404, 0, 0) for v in at_rest.values())} gone, "
            f"{sum(v == (200, 1, 1) for v in at_rest.values())} whole"
        )
