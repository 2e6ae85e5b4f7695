"""The view cache: a build shared by the callers asking meanwhile; fresh reads share only a build
that began after they arrived, one build at a time however many ask."""

from __future__ import annotations

import asyncio

from gateway.fanout.cache import ViewCache

KEY = ("u1", "book", "")


class Builds:
    """A build that waits to be let go, counting how many began and what each read."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()
        self.store = "v1"

    async def __call__(self) -> tuple[bytes, bool]:
        self.started += 1
        seen = self.store  # what the stores hold when the build reads them
        await self.release.wait()
        await asyncio.sleep(0.01)  # the stores' answers take a moment to come
        return seen.encode(), True


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_plain_reads_share_one_build_then_hit_the_cache() -> None:
    cache, builds = ViewCache(), Builds()
    waiting = [asyncio.create_task(cache.get(KEY, builds)) for _ in range(10)]
    await settle()
    builds.release.set()
    served = await asyncio.gather(*waiting)
    assert builds.started == 1 and sorted(s.source for s in served) == ["miss", *["shared"] * 9]
    assert (await cache.get(KEY, builds)).source == "hit"


async def test_a_fresh_crowd_costs_one_build_at_a_time_and_each_sees_what_was_written_before_it_asked() -> None:
    cache, builds = ViewCache(), Builds()
    first = asyncio.create_task(cache.get(KEY, builds, fresh=True))
    await settle()
    assert builds.started == 1
    builds.store = "v2"  # a write acknowledged after the first build read the stores
    crowd = [asyncio.create_task(cache.get(KEY, builds, fresh=True)) for _ in range(16)]
    plain = asyncio.create_task(cache.get(KEY, builds))  # a plain read joins what is running
    await settle()
    assert builds.started == 1, "the crowd waits for the build under way to end"
    builds.release.set()
    assert (await first).body == b"v1" and (await plain).body == b"v1"
    served = await asyncio.gather(*crowd)
    assert builds.started == 2, "sixteen fresh readers, one more build"
    assert {s.body for s in served} == {b"v2"}, "none of them is shown a view read before it asked"
    assert sorted(s.source for s in served) == ["bypass", *["shared"] * 15]


async def test_a_failed_or_cancelled_build_lets_the_waiting_fresh_readers_build_again() -> None:
    cache = ViewCache()
    calls = 0

    async def failing() -> tuple[bytes, bool]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise RuntimeError("a store failed")
        return b"ok", True

    first = asyncio.create_task(cache.get(KEY, failing, fresh=True))
    await settle()
    later = asyncio.create_task(cache.get(KEY, failing, fresh=True))
    results = await asyncio.gather(first, later, return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1].body == b"ok" and calls == 2  # type: ignore[union-attr]


async def test_a_view_built_while_its_user_wrote_is_not_kept() -> None:
    cache, builds = ViewCache(), Builds()
    building = asyncio.create_task(cache.get(KEY, builds))
    await settle()
    cache.invalidate("u1")
    builds.release.set()
    assert (await building).source == "miss"
    assert (await cache.get(KEY, builds)).source == "miss" and builds.started == 2
