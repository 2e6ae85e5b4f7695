"""Places for sections: at most so many at once, and a freed place goes to the newest draft."""

from __future__ import annotations

import asyncio

from processors.text_expansion.gate import NewestFirst


async def test_a_freed_place_goes_to_the_newest_draft_and_never_more_than_the_places() -> None:
    gate = NewestFirst(2)
    order: list[str] = []
    holding = 0
    most = 0
    release = asyncio.Event()

    async def section(name: str, ticket: int) -> None:
        nonlocal holding, most
        async with gate.place(ticket):
            holding += 1
            most = max(most, holding)
            order.append(name)
            await release.wait()
            holding -= 1

    old, older, new = gate.ticket(), gate.ticket(), gate.ticket()
    first = [asyncio.create_task(section(f"backlog-{i}", old)) for i in range(2)]
    while holding < 2:  # both places taken
        await asyncio.sleep(0)
    waiting = [
        asyncio.create_task(section("older-a", older)),
        asyncio.create_task(section("older-b", older)),
        asyncio.create_task(section("new-a", new)),
    ]
    while gate.waiting < 3:  # every later section is queued
        await asyncio.sleep(0)
    assert order == ["backlog-0", "backlog-1"]
    release.set()
    await asyncio.gather(*first, *waiting)
    assert order == ["backlog-0", "backlog-1", "new-a", "older-a", "older-b"]  # a draft's own in order
    assert most == 2


async def test_a_cancelled_waiter_gives_up_its_turn_and_loses_no_place() -> None:
    gate = NewestFirst(1)
    held = asyncio.Event()
    go = asyncio.Event()

    async def holder() -> None:
        async with gate.place(gate.ticket()):
            held.set()
            await go.wait()

    async def waiter(ticket: int) -> str:
        async with gate.place(ticket):
            return "in"

    first = asyncio.create_task(holder())
    await held.wait()
    cancelled = asyncio.create_task(waiter(gate.ticket()))
    later = asyncio.create_task(waiter(gate.ticket() - 1))  # an older draft's section
    while gate.waiting < 2:  # both queued behind the holder
        await asyncio.sleep(0)
    cancelled.cancel()
    go.set()
    await first
    assert await later == "in"
    assert cancelled.cancelled()
    async with gate.place(gate.ticket()):  # the one place is free again
        assert gate.waiting == 0
