"""Processors that are not in the source tree join a running federation, and leave it.

The first is written against docs/federation.md alone, with aiohttp and nats-py, as a team in
another language would: it imports nothing of ours. The second uses the Python runtime. Each is
started as its own process against the session's stack; the gateway and the index service are
neither restarted nor reconfigured.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from processors.runtime.consumer import durable_name
from studio_testing.events import consumer
from studio_testing.harness import Stack, free_port
from studio_testing.payloads import draft
from studio_testing.waiting import eventually, index_entries

OUTSIDER = textwrap.dedent(
    '''
    """A word counter that speaks the federation's contract with nothing but aiohttp and nats-py."""
    import asyncio, hashlib, json, os, sys
    from datetime import datetime, timezone
    from urllib.parse import quote

    import aiohttp
    import nats
    from aiohttp import web
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    PID, SCHEMA = os.environ["PROCESSOR_ID"], "word-count-v1"
    INDEX, TOKEN, PORT = os.environ["INDEX_URL"], os.environ["SERVICE_TOKEN"], int(os.environ["PORT"])
    AUTH = {"Authorization": "Bearer " + TOKEN}
    SLOW = float(os.environ.get("SLOW_SECONDS", "0"))
    store = {}  # our own store: derived id -> blob, as the query API returns it

    def seg(value):
        return quote(value, safe="")

    def derived_id(source_id, version):  # deterministic: the same input makes the same id
        return PID + "-" + hashlib.sha256(f"{PID}\\0{source_id}\\0{version}".encode()).hexdigest()[:32]

    async def batch(request):
        if request.headers.get("Authorization") != "Bearer " + TOKEN:
            return web.json_response(
                {"title": "Unauthorized", "status": 401}, status=401, content_type="application/problem+json"
            )
        body = await request.json()
        found = [store[i] for i in body["ids"] if i in store and store[i]["user_id"] == body["user_id"]]
        return web.json_response(
            {"blobs": found, "missing": [i for i in body["ids"] if i not in {b["id"] for b in found}]}
        )

    async def health(request):
        return web.json_response({"status": "ok"})

    async def derive(http, event):
        await asyncio.sleep(SLOW)
        async with http.post(
            f"{INDEX}/api/v1/blobs/batch", json={"user_id": event["user_id"], "ids": [event["blob_id"]]}
        ) as r:
            blobs = (await r.json())["blobs"]
        if not blobs:
            return  # deleted since
        source = blobs[0]
        text = source["data"]["content"]
        blob_id = derived_id(source["id"], source["version"])
        store[blob_id] = {
            "id": blob_id, "user_id": source["user_id"], "processor_id": PID, "schema_id": SCHEMA,
            "data": {"words": len(text.split()), "characters": len(text)}, "parent_blob_id": source["id"],
            "source_version": source["version"], "book_id": source.get("book_id"), "version": 1,
            "title": "Word count", "preview": f"{len(text.split())} words",
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        registration = {
            "id": blob_id, "user_id": source["user_id"], "processor_id": PID, "storage_location": "memory",
            "remote_blob_id": blob_id, "schema_id": SCHEMA, "parent_id": source["id"], "type": "word-count",
            "title": "Word count", "preview": store[blob_id]["preview"], "source_version": source["version"],
            "book_id": source.get("book_id"), "chapter": source.get("chapter"),
        }
        async with http.post(f"{INDEX}/api/v1/blob-index", json=registration) as r:
            if r.status == 404:  # the draft went away while we counted
                store.pop(blob_id, None)
                return
            assert r.status in (200, 201), await r.text()
        for old in [
            b
            for b in list(store.values())
            if b["parent_blob_id"] == source["id"] and b["source_version"] < source["version"]
        ]:
            params = {"user_id": old["user_id"], "reason": "superseded"}
            async with http.delete(f"{INDEX}/api/v1/blobs/{seg(old['id'])}", params=params) as r:
                assert r.status in (204, 404)
            store.pop(old["id"], None)

    async def consume(js, http, stopped):
        durable = PID + "-drafts"
        await js.add_consumer("STUDIO", ConsumerConfig(
            durable_name=durable, filter_subject="blob.*.text-input-v1", ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW, max_deliver=5, ack_wait=30,
        ))
        sub = await js.pull_subscribe_bind(durable=durable, stream="STUDIO")
        while not stopped.is_set():
            try:
                messages = await sub.fetch(10, timeout=0.5)
            except asyncio.TimeoutError:
                continue
            for msg in messages:
                event = json.loads(msg.data)
                if event["event"] in ("blob.created", "blob.updated"):
                    await derive(http, event)
                elif event["event"] == "blob.deleted":  # the index removes its entries; we remove ours
                    for made in [b for b in store.values() if b["parent_blob_id"] == event["blob_id"]]:
                        store.pop(made["id"], None)
                await msg.ack()
        print("deactivated: consumer stopped", flush=True)

    async def main():
        base_url = f"http://127.0.0.1:{PORT}"
        app = web.Application()
        app.router.add_post("/blobs/batch", batch)
        app.router.add_get("/healthz", health)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", PORT).start()
        async with aiohttp.ClientSession(headers=AUTH) as http:
            schema = {"$id": SCHEMA, "type": "object", "required": ["words"],
                      "properties": {"words": {"type": "integer"}, "characters": {"type": "integer"}}}
            async with http.post(f"{INDEX}/api/v1/schemas", json={"id": SCHEMA, "schema": schema}) as r:
                assert r.status in (200, 201), await r.text()
            subscriptions = [f"blob.{kind}.text-input-v1" for kind in ("created", "updated", "deleted")]
            processor = {
                "id": PID, "name": "Word count", "storage_type": "memory", "database_name": "none",
                "input_schema_ids": ["text-input-v1"], "output_schema_id": SCHEMA, "base_url": base_url,
                "event_subscriptions": subscriptions,
            }
            async with http.post(f"{INDEX}/api/v1/processors", json=processor) as r:
                assert r.status in (200, 201), await r.text()
            nc = await nats.connect(os.environ["NATS_URL"])
            stopped = asyncio.Event()

            async def on_deactivated(msg):
                stopped.set()

            await nc.subscribe(f"processor.deactivated.{PID}", cb=on_deactivated)
            print("ready", flush=True)
            await consume(nc.jetstream(), http, stopped)
            await asyncio.Event().wait()  # stay up (and answer queries) until terminated

    asyncio.run(main())
    '''
)

RUNTIME = textwrap.dedent(
    '''
    """A processor with the Python runtime: a transform and a store, nothing else."""
    import os
    from pathlib import Path
    import msgspec
    from contracts.processors import DerivedBlob
    from processors.runtime import Derived, ProcessorInfo, RuntimeSettings, deriving, processor_app
    from servicekit.runner import serve

    class Store:  # a JSON file is its database
        storage_location, path = "file", Path("blobs.json")
        async def open(self):
            found = msgspec.json.decode(self.path.read_bytes(), type=list[DerivedBlob]) if self.path.exists() else []
            self.blobs = {b.id: b for b in found}
        def save(self): self.path.write_bytes(msgspec.json.encode(list(self.blobs.values())))
        async def close(self): pass
        async def ready(self): pass
        async def upsert(self, blob): self.blobs[blob.id] = blob; self.save()
        async def get(self, user_id, blob_id): return next(iter(await self.batch(user_id, [blob_id])), None)
        async def batch(self, user_id, ids):
            return [self.blobs[i] for i in ids if i in self.blobs and self.blobs[i].user_id == user_id]
        async def since(self, user_id, since, limit):
            return [b for b in self.blobs.values() if b.user_id == user_id][:limit]
        async def for_parent(self, user_id, parent_id):
            return [b for b in self.blobs.values() if b.user_id == user_id and b.parent_blob_id == parent_id]
        async def delete(self, user_id, ids):
            gone = [i for i in ids if i in self.blobs and self.blobs[i].user_id == user_id]
            for i in gone: del self.blobs[i]
            self.save()
            return len(gone)

    class Shouter:
        info = ProcessorInfo(id=os.environ["PROCESSOR_ID"], name="Shouter", description="The draft in capitals.",
                             input_schema_ids=("text-input-v1",), output_schema_id=os.environ["SHOUTER_SCHEMA"],
                             storage_type="file", database_name="blobs.json", schema_package="shouter")
        def __init__(self): self.store = Store()
        async def open(self): await self.store.open()
        async def close(self): pass
        def extra_routes(self): return []
        async def transform(self, source):
            loud = str(source.data["content"]).upper()
            return Derived(data={"shouted": loud, "marks": loud.count("!")}, title="Shouted", preview=loud[:200])

    def create_app(settings): return processor_app(shouter := Shouter(), settings, deriving(shouter))

    port = int(os.environ["STUDIO_SHOUTER_PORT"])
    serve(os.environ["PROCESSOR_ID"], lambda: RuntimeSettings.from_env("SHOUTER", port), create_app)
    '''
)

SHOUTED = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "shouted-text-v1",
    "type": "object",
    "required": ["shouted"],
    "properties": {"shouted": {"type": "string"}, "marks": {"type": "integer"}},
}
# A breaking change (a new required property) is a new major version, registered beside the first.
SHOUTED_V2 = {**SHOUTED, "$id": "shouted-text-v2", "required": ["shouted", "marks"]}


@pytest.fixture
def outsider(stack: Stack, tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """The word counter, running as its own process; yields its id, URL and process."""
    processor_id = f"word-count-{uuid.uuid4().hex[:6]}"
    port = free_port()
    script = tmp_path / "word_count.py"
    script.write_text(OUTSIDER)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PROCESSOR_ID": processor_id,
        "INDEX_URL": stack.index,
        "NATS_URL": stack.nats_url,
        "SERVICE_TOKEN": stack.secrets["service_token"],
        "PORT": str(port),
        "SLOW_SECONDS": "0.4",
    }
    # Run from the temporary directory with a bare environment: nothing of ours is importable.
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", line + (process.stdout.read() if process.poll() is not None else "")
        yield processor_id, f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.communicate(timeout=10)  # reads what is left and closes the pipe


async def view(api: aiohttp.ClientSession, user_id: str, book_id: str) -> dict[str, Any]:
    async with api.get(f"/api/v1/users/{user_id}/books/{book_id}", headers={"Cache-Control": "no-cache"}) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def in_store(url: str, token: str, user_id: str, ids: list[str]) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.post(f"{url}/blobs/batch", json={"user_id": user_id, "ids": ids}) as response:
            assert response.status == 200
            return list((await response.json())["blobs"])


async def test_a_processor_in_another_codebase_joins_follows_and_leaves(
    stack: Stack,
    outsider: tuple[str, str, subprocess.Popen[str]],
    api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    user_id: str,
) -> None:
    processor_id, url, process = outsider
    token = stack.secrets["service_token"]
    async with api.post("/api/v1/blobs", json=draft("outsider", 1, "One two three four five six.")) as response:
        assert response.status == 201
        blob = await response.json()

    first = await eventually(
        lambda: view(api, user_id, "outsider"),
        lambda v: v["chapters"][0]["derived"].get(processor_id, {}).get("data") == {"words": 6, "characters": 28},
        what="the outsider's count in the book view",
    )
    piece = first["chapters"][0]["derived"][processor_id]
    assert piece["status"] == "ok" and piece["schema_id"] == "word-count-v1"
    async with api.get(f"/api/v1/users/{user_id}/blobs", params={"book_id": "outsider"}) as response:
        listed = (await response.json())["blobs"][0]["derived"]
    assert {d["processor"]: d["status"] for d in listed}[processor_id] == "ok"

    # An edit: stale (the old count is there, from an older version), then fresh.
    async with api.put(
        f"/api/v1/blobs/{blob['id']}",
        json={"data": draft("outsider", 1, "Seven words now stand in this draft.")["data"]},
    ) as response:
        assert response.status == 200
    stale = await view(api, user_id, "outsider")
    assert stale["chapters"][0]["derived"][processor_id]["status"] in ("stale", "pending"), stale["chapters"][0][
        "derived"
    ][processor_id]
    fresh = await eventually(
        lambda: view(api, user_id, "outsider"),
        lambda v: (
            v["chapters"][0]["derived"][processor_id]["status"] == "ok"
            and v["chapters"][0]["derived"][processor_id]["data"]["words"] == 7
        ),
        what="the recount",
    )
    made = fresh["chapters"][0]["derived"][processor_id]["id"]
    assert made != piece["id"]
    # It supersedes its own, right after registering the new one.
    await eventually(
        lambda: in_store(url, token, user_id, [piece["id"]]), lambda found: found == [], what="the old count dropped"
    )

    # Another user cannot read it through the gateway or its store's query API.
    assert await in_store(url, token, f"{user_id}-other", [made]) == []

    # A delete: gone from its store.
    async with api.delete(f"/api/v1/blobs/{blob['id']}") as response:
        assert response.status == 204
    await eventually(lambda: in_store(url, token, user_id, [made]), lambda found: found == [], what="the count deleted")

    # It leaves: deactivated, it stops consuming, and views no longer wait for it.
    async with internal.post(f"/api/v1/processors/{processor_id}/deactivate") as response:
        assert response.status == 200
    assert process.stdout is not None
    said = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=20)
    assert said.strip() == "deactivated: consumer stopped", said
    before = await view(api, user_id, "outsider")  # the chapter is gone; its book view is empty
    assert before["chapters"] == []
    async with api.post("/api/v1/blobs", json=draft("outsider-after", 1, "Nobody counts these words.")) as response:
        assert response.status == 201
    after = await eventually(
        lambda: view(api, user_id, "outsider-after"),
        lambda v: v["chapters"][0]["derived"].get("text-expansion", {}).get("status") == "ok",
        what="the other processors carry on",
    )
    # The new draft's event waits in the outsider's durable consumer, undelivered: it reached the
    # outsider, which no longer takes anything.
    await eventually(
        lambda: consumer(stack.nats_url, f"{processor_id}-drafts"),
        lambda c: c is not None and c.num_pending >= 1,
        what="the draft's event waiting for the deactivated outsider",
    )
    after = await view(api, user_id, "outsider-after")
    assert processor_id not in after["chapters"][0]["derived"]


async def test_a_processor_with_the_python_runtime_joins_and_migrates_to_a_new_major_version(
    stack: Stack, api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str, tmp_path: Path
) -> None:
    processor_id = f"shouter-{uuid.uuid4().hex[:6]}"
    port = free_port()
    # A package of its own, as docs/processors.md lays it out: the code, and the schemas it owns.
    package = tmp_path / "shouter"
    (package / "schemas").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(RUNTIME)
    (package / "schemas" / "shouted-text-v1.json").write_text(json.dumps(SHOUTED))
    assert len(RUNTIME.strip().splitlines()) < 50
    env = {
        **os.environ,
        "PROCESSOR_ID": processor_id,
        "STUDIO_SHOUTER_PORT": str(port),
        "STUDIO_INDEX_URL": stack.index,
        "STUDIO_NATS_URL": stack.nats_url,
        "STUDIO_SERVICE_TOKEN": stack.secrets["service_token"],
    }
    log = tmp_path / "shouter.log"

    def start(schema_id: str) -> subprocess.Popen[bytes]:
        with log.open("a") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "shouter"],
                cwd=tmp_path,
                env={**env, "SHOUTER_SCHEMA": schema_id},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    async def registered_as(schema_id: str) -> None:
        async def entry() -> dict[str, Any]:
            async with internal.get(f"/api/v1/processors/{processor_id}") as response:
                return dict(await response.json()) if response.status == 200 else {}

        await eventually(
            entry,
            lambda e: e.get("output_schema_id") == schema_id,
            what=f"the shouter registered (log: {log})",
            timeout=30,
        )
        # Its consumers start right after it registers: a draft posted now must find them pulling.
        await eventually(
            lambda: consumer(stack.nats_url, durable_name(processor_id, "blob.created.text-input-v1")),
            lambda c: c is not None and (c.num_waiting or 0) >= 1,
            what="the shouter pulling",
        )

    def piece(v: dict[str, Any]) -> dict[str, Any]:
        return dict(v["chapters"][0]["derived"].get(processor_id, {}))

    process = start("shouted-text-v1")
    try:
        await registered_as("shouted-text-v1")
        async with api.post("/api/v1/blobs", json=draft("shouted", 1, "quiet words in a quiet room!")) as response:
            assert response.status == 201
        first = piece(
            await eventually(
                lambda: view(api, user_id, "shouted"), lambda v: piece(v).get("status") == "ok", what="v1", timeout=30
            )
        )
        assert (
            first["data"] == {"shouted": "QUIET WORDS IN A QUIET ROOM!", "marks": 1}
            and first["schema_id"] == "shouted-text-v1"
        )

        # A breaking change ships as v2 beside v1; the processor restarts on it, and an operator
        # has it re-derive the user's items in the background.
        process.terminate()
        process.wait(timeout=60)
        (package / "schemas" / "shouted-text-v2.json").write_text(json.dumps(SHOUTED_V2))
        process = start("shouted-text-v2")
        await registered_as("shouted-text-v2")
        async with internal.get("/api/v1/schemas/shouted-text-v2") as response:
            assert response.status == 200  # registered by the runtime, beside v1
        cli_env = {
            **os.environ,
            "STUDIO_INDEX_URL": stack.index,
            "STUDIO_NATS_URL": stack.nats_url,
            "STUDIO_SERVICE_TOKEN": stack.secrets["service_token"],
        }
        done = subprocess.run(
            [sys.executable, "-m", "compose.cli", "processors", "rederive", processor_id, "--user", user_id],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{processor_id}: 1 item(s)"), done.stdout
        second = piece(
            await eventually(
                lambda: view(api, user_id, "shouted"),
                lambda v: piece(v).get("schema_id") == "shouted-text-v2" and piece(v)["status"] == "ok",
                what="v2",
                timeout=30,
            )
        )
        assert second["id"] != first["id"] and second["data"] == first["data"]

        # The v1 item goes from the store and from the index, right after v2 is registered. (The
        # store also holds other users' items: a new processor starts from the stream's beginning.)
        async def schemas_stored() -> list[str]:
            return [
                b["schema_id"]
                for b in msgspec.json.decode((tmp_path / "blobs.json").read_bytes())
                if b["user_id"] == user_id
            ]

        await eventually(schemas_stored, lambda found: found == ["shouted-text-v2"], what="v1 dropped from the store")
        entries = await index_entries(internal, user_id, processor_id=processor_id)
        assert [e["schema_id"] for e in entries] == ["shouted-text-v2"]
    finally:
        async with internal.post(f"/api/v1/processors/{processor_id}/deactivate") as response:
            assert response.status in (200, 404)
        process.terminate()
        process.wait(timeout=60)
    assert "Traceback" not in log.read_text(), log.read_text()
