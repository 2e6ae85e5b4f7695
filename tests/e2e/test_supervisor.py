"""The one-machine supervisor: data survives a restart, a killed service comes back, nothing is left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import msgspec
import nats
import nats.errors
import pytest
from nats.js.api import DeliverPolicy

from servicekit.auth import issue_token
from studio_testing.harness import Stack, pid_alive, running_stack
from studio_testing.payloads import draft


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
    deadline = time.monotonic() + timeout
    while (left := leftovers(stack, pids)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return left


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    """A stack of its own: these tests stop and kill parts of it."""
    with running_stack() as stack:
        yield stack


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
    deadline = time.monotonic() + 60
    while True:
        now = own_stack.refresh()["services"]["index"]
        if now["pid"] != before["pid"] and now["restarts"] == before["restarts"] + 1:
            break
        assert time.monotonic() < deadline, "the index service was not restarted"
        await asyncio.sleep(0.2)
    async with client(own_stack, user_id) as api:
        async with api.post("/api/v1/blobs", json=draft("after-restart", 1)) as response:
            assert response.status == 201
    assert "index exited with code -9; restart #1" in own_stack.supervisor_log()


async def wait_restarted(stack: Stack, name: str, old_pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = stack.refresh()
        entry = info["services"].get(name) or info[name]
        if entry["pid"] != old_pid:
            return
        assert time.monotonic() < deadline, f"{name} was not restarted"
        await asyncio.sleep(0.2)


async def test_acknowledged_writes_survive_kill_9_of_every_backing_server(own_stack: Stack, user_id: str) -> None:
    seen: list[str] = []
    async with client(own_stack, user_id) as api:
        async with api.post("/api/v1/blobs", json=draft("durable", 1)) as response:
            assert response.status == 201
            blob = await response.json()
        async with api.post(f"/api/v1/users/{user_id}/books/durable/compile") as response:
            assert response.status == 202
        deadline = time.monotonic() + 30
        while True:  # a compiled version acknowledged by PostgreSQL
            async with api.get(f"/api/v1/users/{user_id}/books/durable") as response:
                compiled = (await response.json())["compiled"]
            if compiled is not None:
                break
            assert time.monotonic() < deadline, "the book was not compiled"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # let the events reach the stream before the broker is killed
        info = own_stack.refresh()
        for name in ("mongo", "nats", "postgres"):
            os.kill(info[name]["pid"], signal.SIGKILL)
        for name in ("mongo", "nats", "postgres"):
            await wait_restarted(own_stack, name, info[name]["pid"])
        deadline = time.monotonic() + 30
        while True:  # the index service reconnects by itself
            async with api.get(f"/api/v1/blobs/{blob['id']}") as response:
                if response.status == 200:
                    assert (await response.json())["data"] == blob["data"]
                    break
            assert time.monotonic() < deadline, "the blob did not come back"
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 30
        while True:  # the compiler's pool reconnects by itself
            async with api.get(
                f"/api/v1/users/{user_id}/books/durable", headers={"Cache-Control": "no-cache"}
            ) as response:
                view = await response.json()
            if view["compiled_status"] == "ok":
                assert view["compiled"]["id"] == compiled["id"]
                break
            assert time.monotonic() < deadline, f"the compiled book did not come back: {view['errors']}"
            await asyncio.sleep(0.3)
    nc = await nats.connect(own_stack.nats_url)
    try:
        sub = await nc.jetstream().subscribe(
            "blob.created.text-input-v1", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        while True:
            try:
                msg = await sub.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                break
            seen.append(msgspec.json.decode(msg.data)["blob_id"])
    finally:
        await nc.drain()
    assert blob["id"] in seen


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
