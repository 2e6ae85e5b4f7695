"""The production shape on one machine: three NATS nodes, two gateways, two instances of each processor.

A writer's socket on either gateway hears everything of theirs, whoever produced it; a socket
resumes on the other gateway; instances split the work with no duplicate; kill -9 of a NATS node
during writes through both gateways loses nothing acknowledged, and the node comes back and catches up.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest

from contracts.subjects import STREAM_NAME
from servicekit.auth import issue_token
from studio_testing.fake_openai import ThreadedProvider
from studio_testing.harness import ServiceProcess, Stack, running_stack
from studio_testing.otlp import ReceivedSpan, TraceCollector
from studio_testing.payloads import draft
from studio_testing.sockets import Socket
from studio_testing.waiting import answered, eventually

pytestmark = pytest.mark.slow
PROCESSORS = ("text-expansion", "summary")
WRITE_LOOPS = 4


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[TraceCollector, str]]:
    received = TraceCollector()
    served = ThreadedProvider(received).start()  # type: ignore[arg-type]
    yield received, served.url.removesuffix("/v1")
    served.stop()


@pytest.fixture(scope="module")
def cluster(collector: tuple[TraceCollector, str]) -> Iterator[Stack]:
    with running_stack(
        STUDIO_TOPOLOGY="cluster",
        STUDIO_PROCESSORS=",".join(PROCESSORS),
        STUDIO_GATEWAY_PENDING_GRACE_SECONDS="3",
        STUDIO_PROCESSOR_ACK_WAIT_SECONDS="5",
        STUDIO_PROCESSOR_MAX_DELIVER="20",
        STUDIO_PROCESSOR_BACKOFF_SECONDS="0.2,0.5,1",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector[1],
        OTEL_BSP_SCHEDULE_DELAY="200",
    ) as stack:
        yield stack


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def headers(stack: Stack, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(stack.secrets['jwt_secret'], user)}"}


async def socket_on(session: aiohttp.ClientSession, stack: Stack, gateway: str, user: str, **params: str) -> Socket:
    token = issue_token(stack.secrets["jwt_secret"], user)
    socket = Socket(await session.ws_connect(gateway + "/ws", params={"token": token, **params}))
    await socket.wait_for(lambda m: m["type"] == "ready")
    return socket


async def create(session: aiohttp.ClientSession, stack: Stack, gateway: str, user: str, book: str, chapter: int) -> str:
    body = draft(
        book, chapter, f"Chapter {chapter} of {book}, written through {gateway[-5:]}. The tide turned at dusk."
    )
    async with session.post(gateway + "/api/v1/blobs", json=body, headers=headers(stack, user)) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


def derived_from(blob: str, processor: str) -> Any:
    return lambda m: m["type"] == "blob.derived" and m["parent_id"] == blob and m["processor"] == processor


async def test_the_stack_lists_every_node_and_keeps_three_copies_of_each_stream(cluster: Stack) -> None:
    info = cluster.refresh()
    assert info["topology"] == "cluster"
    assert {"nats", "nats-2", "nats-3"} <= set(info) and len(info["nats_url"].split(",")) == 3
    assert len(info["gateways"]) == 2
    assert {f"{p}{suffix}" for p in PROCESSORS for suffix in ("", "-2")} | {"index", "gateway", "gateway-2"} == set(
        info["services"]
    )
    nc = await nats.connect(servers=cluster.nats_url.split(","))
    try:
        js = nc.jetstream()
        for stream in (STREAM_NAME, "STUDIO_PROGRESS", "STUDIO_DLQ"):
            found = await js.stream_info(stream)
            assert found.config.num_replicas == 3, stream
            assert found.cluster is not None and len(found.cluster.replicas or []) == 2, stream
    finally:
        await nc.close()


async def test_a_socket_on_either_gateway_hears_what_was_written_through_the_other(
    cluster: Stack, session: aiohttp.ClientSession
) -> None:
    a, b = cluster.gateways
    user, outsider = "cluster-hear", "cluster-outsider"
    on_a, on_b, theirs = (
        await socket_on(session, cluster, a, user),
        await socket_on(session, cluster, b, user),
        await socket_on(session, cluster, b, outsider),
    )
    try:
        through_a = await create(session, cluster, a, user, "heard", 1)
        through_b = await create(session, cluster, b, user, "heard", 2)
        for socket in (on_a, on_b):
            for blob in (through_a, through_b):
                await socket.wait_for(lambda m, blob=blob: m["type"] == "blob.created" and m["blob_id"] == blob)
                # The summary is made from the expansion.
                (expansion,) = await socket.wait_for(derived_from(blob, "text-expansion"), timeout=30)
                await socket.wait_for(derived_from(expansion["derived_id"], "summary"), timeout=30)
        # Both gateways number events alike: the stream's sequence.
        ids = lambda s: {m["event_id"]: m["id"] for m in s.messages if "event_id" in m}  # noqa: E731
        assert ids(on_a) == ids(on_b) and len(ids(on_a)) >= 6
        await asyncio.sleep(0.3)
        assert [m["type"] for m in theirs.messages] == ["ready"]
    finally:
        for socket in (on_a, on_b, theirs):
            await socket.close()


async def test_a_socket_dropped_from_one_gateway_resumes_on_the_other(
    cluster: Stack, session: aiohttp.ClientSession
) -> None:
    a, b = cluster.gateways
    user = "cluster-resume"
    first = await socket_on(session, cluster, a, user)
    seen = await create(session, cluster, a, user, "resumed", 1)
    (event,) = await first.wait_for(lambda m: m["type"] == "blob.created" and m["blob_id"] == seen)
    last_id = max(m["id"] for m in first.messages if "event_id" in m)
    await first.close()
    missed = [await create(session, cluster, b, user, "resumed", chapter) for chapter in (2, 3, 4)]
    second = await socket_on(session, cluster, b, user, last_event_id=str(last_id))
    try:
        for blob in missed:
            await second.wait_for(lambda m, blob=blob: m["type"] == "blob.created" and m["blob_id"] == blob)
        replayed = [m for m in second.messages if "event_id" in m]
        assert all(m["id"] > last_id for m in replayed), "an event seen on the first gateway came again"
        assert [m["id"] for m in replayed] == sorted({m["id"] for m in replayed}), "out of order or repeated"
        assert event["id"] <= last_id
    finally:
        await second.close()


async def test_one_trace_runs_from_a_draft_written_on_one_gateway_to_its_expansion_on_the_others_socket(
    cluster: Stack, collector: tuple[TraceCollector, str], session: aiohttp.ClientSession
) -> None:
    a, b = cluster.gateways
    user = "cluster-traced"
    listening = await socket_on(session, cluster, b, user)
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    try:
        async with session.post(
            a + "/api/v1/blobs",
            json=draft("traced", 1, "The lamp was lit at six. Nobody came."),
            headers={**headers(cluster, user), "traceparent": f"00-{trace_id}-{caller}-01"},
        ) as response:
            assert response.status == 201, await response.text()
            blob = (await response.json())["id"]
        (expansion,) = await listening.wait_for(derived_from(blob, "text-expansion"), timeout=30)
    finally:
        await listening.close()
    services = cluster.refresh()["services"]
    gateway_b = f":{services['gateway-2']['pid']}"

    def delivered_on_b(spans: list[ReceivedSpan]) -> bool:
        return any(
            s.name.startswith("deliver ")
            and s.instance.endswith(gateway_b)
            and s.attributes.get("messaging.message.id") == expansion["event_id"]
            and s.attributes.get("studio.sockets") == 1
            for s in spans
        )

    def parents_of_roots(spans: list[ReceivedSpan]) -> set[str]:
        ids = {s.span_id for s in spans}
        return {s.parent_span_id for s in spans if s.parent_span_id not in ids}

    # Spans are sent as they end, each service on its own: wait for the last hop and a whole tree.
    received, _ = collector
    spans = await eventually(
        lambda: asyncio.sleep(0, received.trace(trace_id)),
        lambda s: delivered_on_b(s) and parents_of_roots(s) == {caller},
        timeout=30,
        what="the trace's last hop, and every span's parent",
    )
    by_service = {(s.service, s.name) for s in spans}
    print("\n".join(sorted(f"{service:>15}  {name}" for service, name in by_service)))
    assert ("gateway", "POST /api/v1/blobs") in by_service
    assert ("index", "POST /api/v1/blobs") in by_service
    assert ("index", "publish blob.created.text-input-v1") in by_service
    assert ("text-expansion", "process blob.created.text-input-v1") in by_service
    assert any(
        service == "index" and name.startswith("publish blob.created.expanded-text") for service, name in by_service
    )
    # One tree: the gateway's first span is the caller's child, and every other span has its parent in the trace.
    (root,) = [s for s in spans if s.parent_span_id == caller]
    assert (root.service, root.name) == ("gateway", "POST /api/v1/blobs")


async def handled(session: aiohttp.ClientSession, url: str, processor: str, cluster: Stack) -> float:
    """How many messages one processor instance handled to the end (its `processed` outcome; labels come sorted)."""
    async with session.get(url + "/metrics", headers=cluster.metrics_headers) as response:
        text = await response.text()
    found = re.search(
        rf'studio_processor_messages_total{{outcome="processed",processor="{processor}"}} ([0-9.e+]+)', text
    )
    return float(found.group(1)) if found else 0.0


async def test_two_instances_of_a_processor_split_the_work_and_derive_each_draft_once(
    cluster: Stack, session: aiohttp.ClientSession
) -> None:
    info = cluster.refresh()["services"]
    instances = [info["text-expansion"]["url"], info["text-expansion-2"]["url"]]
    before = [await handled(session, url, "text-expansion", cluster) for url in instances]
    user = "cluster-split"
    a, b = cluster.gateways
    blobs = await asyncio.gather(*(create(session, cluster, (a, b)[n % 2], user, "split", n + 1) for n in range(40)))
    service = {"Authorization": f"Bearer {cluster.secrets['service_token']}"}

    async def expansions() -> dict[str, int]:
        async with session.get(
            cluster.index + "/api/v1/blob-index",
            params={"user_id": user, "processor_id": "text-expansion", "limit": "500"},
            headers=service,
        ) as response:
            assert response.status == 200, await response.text()
            counts: dict[str, int] = {}
            for entry in (await response.json())["entries"]:
                counts[entry["parent_id"]] = counts.get(entry["parent_id"], 0) + 1
            return counts

    counts = await eventually(expansions, lambda c: set(blobs) <= set(c), timeout=90, what="every draft expanded")
    assert all(counts[blob] == 1 for blob in blobs), counts

    async def shares() -> list[float]:
        # An instance counts a message once it has acked it, a moment after the index has its blob.
        return [
            await handled(session, url, "text-expansion", cluster) - b for url, b in zip(instances, before, strict=True)
        ]

    split = await eventually(shares, lambda s: sum(s) >= len(blobs), what="every message counted")
    assert all(share > 0 for share in split), f"each instance's share: {split}"


async def stream_state(nats_url: str) -> Any:
    nc = await nats.connect(servers=nats_url.split(","), connect_timeout=2)
    try:
        return await nc.jetstream().stream_info(STREAM_NAME)
    finally:
        await nc.close()


@pytest.mark.timeout(300)
async def test_kill_9_of_a_nats_node_during_writes_through_both_gateways_loses_nothing(
    cluster: Stack, session: aiohttp.ClientSession
) -> None:
    user = "cluster-fault"
    gateways = cluster.gateways
    # The stream's leader is the node whose loss costs the most: a new leader must be elected.
    leader = (await stream_state(cluster.nats_url)).cluster.leader
    victim = leader.removeprefix("studio-")
    listening = await socket_on(session, cluster, gateways[1], user)
    acknowledged: list[str] = []
    refused = 0
    stop_at = time.monotonic() + 12.0

    async def write_loop(number: int) -> None:
        nonlocal refused
        chapter = 0
        timeout = aiohttp.ClientTimeout(total=10)
        while time.monotonic() < stop_at:
            chapter += 1
            gateway = gateways[chapter % 2]
            try:
                async with session.post(
                    gateway + "/api/v1/blobs",
                    json=draft(f"fault-{number}", chapter, f"Line {chapter} of loop {number}."),
                    headers=headers(cluster, user),
                    timeout=timeout,
                ) as response:
                    if response.status == 201:
                        acknowledged.append((await response.json())["id"])
                    else:
                        refused += 1
            except (aiohttp.ClientError, TimeoutError):
                refused += 1
            await asyncio.sleep(0.1)  # a writer's pace, not a flood: the point is the fault

    async def fault() -> int:
        await asyncio.sleep(4.0)
        pid = int(cluster.refresh()[victim]["pid"])
        os.kill(pid, signal.SIGKILL)
        return pid

    killed_pid, *_ = await asyncio.gather(fault(), *(write_loop(n) for n in range(WRITE_LOOPS)))
    print(f"killed {victim} (stream leader); acknowledged {len(acknowledged)}, not acknowledged {refused}")
    assert len(acknowledged) > 20

    try:
        # The supervisor brings the node back; it rejoins and catches up with the stream.
        await eventually(
            lambda: asyncio.sleep(0, cluster.refresh()[victim]),
            lambda e: e["restarts"] >= 1 and e["pid"] != killed_pid,
            timeout=60,
            what="the node restarted",
        )
        caught_up = await eventually(
            lambda: stream_state(cluster.nats_url),
            lambda s: (
                s.cluster is not None
                and len(s.cluster.replicas or []) == 2
                and all(r.current and not r.lag for r in s.cluster.replicas)
            ),
            timeout=60,
            what="every replica current",
        )
        print(
            f"stream leader now {caught_up.cluster.leader}; "
            f"replicas {[(r.name, r.current, r.lag) for r in caught_up.cluster.replicas]}"
        )

        # Every acknowledged write is there, its event reached both processors, and the socket heard it.
        service = {"Authorization": f"Bearer {cluster.secrets['service_token']}"}

        async def derived() -> dict[str, dict[str, str]]:
            """parent id -> {processor: derived id}."""
            found: dict[str, dict[str, str]] = {}
            for number in range(WRITE_LOOPS):
                async with session.get(
                    cluster.index + "/api/v1/blob-index",
                    params={"user_id": user, "book_id": f"fault-{number}", "limit": "500"},
                    headers=service,
                ) as response:
                    assert response.status == 200, await response.text()
                    entries = (await response.json())["entries"]
                    assert len(entries) < 500, "more than a page: the loop wrote too fast for this check"
                    for entry in entries:
                        if entry.get("parent_id"):
                            found.setdefault(entry["parent_id"], {})[entry["processor_id"]] = entry["id"]
            return found

        def chain_complete(found: dict[str, dict[str, str]]) -> bool:
            expansions = [found.get(b, {}).get("text-expansion") for b in acknowledged]
            return all(e is not None and "summary" in found.get(e, {}) for e in expansions)

        done = await eventually(derived, chain_complete, timeout=120, what="every write expanded and summarised")
        for blob in acknowledged:
            for gateway in gateways:
                async with session.get(f"{gateway}/api/v1/blobs/{blob}", headers=headers(cluster, user)) as response:
                    assert response.status == 200, f"acknowledged {blob} missing through {gateway}"
        assert all(len([d for d in done[b].values()]) == 1 for b in acknowledged), "a draft derived twice"
        await listening.wait_for(
            lambda m: m["type"] == "blob.created" and m["blob_id"] in set(acknowledged),
            count=len(acknowledged),
            timeout=30,
        )
    finally:
        await listening.close()


async def test_a_writer_reads_their_write_through_the_other_gateway_with_its_consistency_token(
    cluster: Stack, session: aiohttp.ClientSession
) -> None:
    a, b = cluster.gateways
    user = "cluster-ryw"
    view = f"{b}/api/v1/users/{user}/books/ryw"
    sources = []
    for chapter in range(1, 21):
        if chapter > 1:
            status, _, _ = await answered(session, view, headers=headers(cluster, user))
            assert status == 200  # B now holds the book in its cache
        body = draft("ryw", chapter, f"Chapter {chapter}, read back at once.")
        async with session.post(a + "/api/v1/blobs", json=body, headers=headers(cluster, user)) as response:
            assert response.status == 201
            token = response.headers["Studio-Consistency"]
            assert int(token) == int(datetime.fromisoformat((await response.json())["updated_at"]).timestamp() * 1000)
        status, read, answer_headers = await answered(
            session, view, headers={**headers(cluster, user), "Studio-Consistency": token}
        )
        assert status == 200
        chapters = read["chapters"]
        sources.append(answer_headers["X-Cache"])
        assert len(chapters) == chapter, f"B's view after the write of chapter {chapter} shows {len(chapters)}"
    print(f"B served from: {sorted(set(sources))}")

    # Once B has seen the write's event, the token no longer costs a fresh build.
    async def with_the_token() -> str:
        assert (await answered(session, view, headers=headers(cluster, user)))[0] == 200
        _, _, answer_headers = await answered(
            session, view, headers={**headers(cluster, user), "Studio-Consistency": token}
        )
        return answer_headers.get("X-Cache", "")

    await eventually(with_the_token, lambda cache: cache == "hit", what="B answering the token from its cache")


@pytest.mark.parametrize("token", ["soon", "-1", "1e3", "12a", "9" * 17, "1" * 16 + "0"])
async def test_a_malformed_consistency_token_is_a_400_problem(
    cluster: Stack, session: aiohttp.ClientSession, token: str
) -> None:
    async with session.get(
        f"{cluster.gateways[1]}/api/v1/users/cluster-bad/books/any",
        headers={**headers(cluster, "cluster-bad"), "Studio-Consistency": token},
    ) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"
        assert (await response.json())["type"] == "urn:studio:problem:bad-consistency-token"


async def test_an_instance_started_without_the_replica_setting_keeps_the_streams_at_three(
    cluster: Stack, tmp_path: Path
) -> None:
    # It makes sure the streams exist, asking for one replica: that must not take a copy away.
    # Last in the module: it registers its own URL as text expansion's, and then it is gone.
    stray = ServiceProcess.text_expansion(cluster, "stray_instance", tmp_path)
    stray.start()
    try:
        await asyncio.to_thread(stray.wait_ready, 60)
    finally:
        stray.kill()
    nc = await nats.connect(servers=cluster.nats_url.split(","))
    try:
        for stream in (STREAM_NAME, "STUDIO_PROGRESS", "STUDIO_DLQ"):
            assert (await nc.jetstream().stream_info(stream)).config.num_replicas == 3, stream
    finally:
        await nc.close()
