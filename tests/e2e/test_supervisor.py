"""The one-machine supervisor: data survives a restart, a killed service comes back, nothing is left behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import nats
import nats.errors
import pytest
from nats.js.api import DeliverPolicy

from contracts.subjects import STREAM_NAME
from servicekit.auth import issue_token
from studio_testing.harness import Stack, pid_alive, running_stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually


def leftovers(stack: Stack, pids: list[int]) -> list[int]:
    """Processes of this stack still alive: known pids, or anything naming its data dir."""
    alive = [p for p in pids if pid_alive(p)]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if str(stack.data_dir).encode() in cmdline and pid_alive(int(entry.name)):
                alive.append(int(entry.name))
    return sorted(set(alive))


async def wait_until_gone(stack: Stack, pids: list[int], timeout: float = 20.0) -> list[int]:
    async def left() -> list[int]:
        return leftovers(stack, pids)

    return await eventually(left, lambda found: not found, timeout=timeout, what="every process gone")


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    """A stack of its own: these tests stop and kill parts of it."""
    with running_stack() as stack:
        yield stack


FRESH = {"Cache-Control": "no-cache"}
SUBJECT = "blob.created.text-input-v1"


async def created_in_stream(stack: Stack) -> list[str]:
    """The blob ids of every draft creation the stream holds."""
    seen: list[str] = []
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        held = (await js.stream_info(STREAM_NAME, subjects_filter=SUBJECT)).state.subjects or {}
        sub = await js.subscribe(SUBJECT, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        for _ in range(held.get(SUBJECT, 0)):
            seen.append(msgspec.json.decode((await sub.next_msg(timeout=5)).data)["blob_id"])
    finally:
        await nc.drain()
    return seen


def client(stack: Stack, user: str) -> aiohttp.ClientSession:
    token = issue_token(stack.secrets["jwt_secret"], user)
    return aiohttp.ClientSession(base_url=stack.gateway, headers={"Authorization": f"Bearer {token}"})


async def test_stack_file_describes_every_component(own_stack: Stack) -> None:
    info = own_stack.refresh()
    assert set(info["services"]) >= {"index", "gateway"}
    assert info["gateway"] == own_stack.gateway
    assert info["mongo"]["url"].startswith("mongodb://") and info["nats"]["url"].startswith("nats://")
    assert set(info["databases"]) >= {"index", "text-expansion", "book-compiler", "pitch-builder"}
    assert info["databases"]["text-expansion"].startswith("mongodb://")
    assert info["databases"]["book-compiler"].startswith("postgresql://")
    assert oct(own_stack.stack_file.stat().st_mode & 0o777) == "0o600"
    assert oct((own_stack.data_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"


async def test_a_killed_service_is_restarted(own_stack: Stack, user_id: str) -> None:
    before = own_stack.refresh()["services"]["index"]
    os.kill(before["pid"], signal.SIGKILL)

    async def index() -> dict[str, Any]:
        return dict(own_stack.refresh()["services"]["index"])

    await eventually(
        index,
        lambda now: now["pid"] != before["pid"] and now["restarts"] == before["restarts"] + 1,
        timeout=60,
        what="the index service restarted",
    )
    async with client(own_stack, user_id) as api:
        async with api.post("/api/v1/blobs", json=draft("after-restart", 1)) as response:
            assert response.status == 201
    assert "index exited with code -9; restart #1" in own_stack.supervisor_log()


async def wait_restarted(stack: Stack, name: str, old_pid: int, timeout: float = 60.0) -> None:
    async def pid() -> int:
        info = stack.refresh()
        return int((info["services"].get(name) or info[name])["pid"])

    await eventually(pid, lambda now: now != old_pid, timeout=timeout, what=f"{name} restarted")


async def test_acknowledged_writes_survive_kill_9_of_every_backing_server(own_stack: Stack, user_id: str) -> None:
    async with client(own_stack, user_id) as api:
        async with api.post("/api/v1/blobs", json=draft("durable", 1)) as response:
            assert response.status == 201
            blob = await response.json()
        async with api.post(f"/api/v1/users/{user_id}/books/durable/compile") as response:
            assert response.status == 202

        async def book() -> dict[str, Any]:
            async with api.get(f"/api/v1/users/{user_id}/books/durable", headers=FRESH) as response:
                return dict(await response.json())

        # A compiled version acknowledged by PostgreSQL...
        compiled = (await eventually(book, lambda v: v["compiled"] is not None, timeout=30, what="compiled"))[
            "compiled"
        ]
        # ...and the draft's event acknowledged by JetStream, before the broker is killed.
        assert blob["id"] in await eventually(
            lambda: created_in_stream(own_stack), lambda ids: blob["id"] in ids, what="the event in the stream"
        )
        info = own_stack.refresh()
        for name in ("mongo", "nats", "postgres"):
            os.kill(info[name]["pid"], signal.SIGKILL)
        for name in ("mongo", "nats", "postgres"):
            await wait_restarted(own_stack, name, info[name]["pid"])

        async def read_back() -> tuple[int, Any]:
            async with api.get(f"/api/v1/blobs/{blob['id']}") as response:
                return response.status, (await response.json())["data"] if response.status == 200 else None

        # The index service reconnects by itself...
        assert (await eventually(read_back, lambda r: r[0] == 200, timeout=30, what="the blob back"))[1] == blob["data"]
        # ...and so does the compiler's pool.
        view = await eventually(book, lambda v: v["compiled_status"] == "ok", timeout=30, what="the compiled book back")
        assert view["compiled"]["id"] == compiled["id"]
    assert blob["id"] in await created_in_stream(own_stack)  # the broker's kill -9 lost no acknowledged event


async def test_data_survives_a_restart_and_shutdown_leaves_nothing(own_stack: Stack, user_id: str) -> None:
    async with client(own_stack, user_id) as api:
        async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "kept", "title": "Kept Book"}) as response:
            assert response.status == 201
        async with api.post("/api/v1/blobs", json=draft("kept", 1)) as response:
            blob = await response.json()
    pids = own_stack.pids()
    assert len(pids) >= 5
    assert own_stack.stop() == 0
    assert await wait_until_gone(own_stack, pids) == []
    assert not own_stack.stack_file.exists()

    own_stack.start()
    async with client(own_stack, user_id) as api:
        async with api.get(f"/api/v1/blobs/{blob['id']}") as response:
            assert response.status == 200
            assert (await response.json())["data"] == blob["data"]
        async with api.get(f"/api/v1/users/{user_id}/books") as response:
            (book,) = (await response.json())["books"]
    assert book["title"] == "Kept Book" and book["chapters"][0]["draft_blob_id"] == blob["id"]


async def test_children_die_with_a_killed_supervisor(own_stack: Stack) -> None:
    pids = own_stack.pids()
    assert own_stack.process is not None
    own_stack.process.kill()
    own_stack.process.wait()
    left = await wait_until_gone(own_stack, pids)
    assert left == [], [
        Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:200] for p in left if pid_alive(p)
    ]
    own_stack.start()  # leave a running stack for the fixture to stop
