"""Derivations running in one processor instance: made once, and dropped when their source moves on.

Two events can ask for the same derived blob at once (an old event derives from the current
version too); the second waits for the first's result instead of paying the model twice. When
a newer version of a source is being derived, or announced on the stream, the work on older
versions is cancelled: nobody will read it, and a streaming model stops being paid for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from .errors import Superseded

log = logging.getLogger(__name__)
T = TypeVar("T")
LATEST = 2**62  # a deletion supersedes every version


@dataclass(eq=False)
class _Run(Generic[T]):
    user_id: str
    source_id: str
    version: int
    task: asyncio.Task[T]
    superseded: bool = field(default=False)


class InFlight:
    """One task per derived id; by source, the version each is made from."""

    def __init__(self) -> None:
        self._by_id: dict[str, _Run[object]] = {}
        self.cancelled = 0

    def __len__(self) -> int:
        return len(self._by_id)

    async def run(
        self, derived_id: str, user_id: str, source_id: str, version: int, make: Callable[[], Awaitable[T]]
    ) -> T:
        """`make()`'s result, made once however many callers ask at the same time.

        Raises `Superseded` when a newer version of the source came meanwhile.
        """
        existing = self._by_id.get(derived_id)
        if existing is not None:
            try:
                return cast(T, await asyncio.shield(existing.task))
            except asyncio.CancelledError:
                if existing.superseded and not _being_cancelled():
                    raise Superseded(f"{source_id} v{version} was superseded while it was derived") from None
                raise
        self.supersede(user_id, source_id, version)

        async def made() -> T:
            return await make()

        run: _Run[T] = _Run(user_id, source_id, version, asyncio.create_task(made(), name=f"derive-{derived_id}"))
        self._by_id[derived_id] = run  # type: ignore[assignment]
        try:
            return await run.task
        except asyncio.CancelledError:
            if run.superseded and not _being_cancelled():
                raise Superseded(f"{source_id} v{version} was superseded while it was derived") from None
            run.task.cancel()  # our caller is being cancelled (shutdown): so is the work
            raise
        finally:
            if self._by_id.get(derived_id) is run:
                del self._by_id[derived_id]

    async def settled(self, derived_id: str) -> None:
        """Wait for the derivation of `derived_id` under way, if one is, whatever its end."""
        existing = self._by_id.get(derived_id)
        if existing is not None:
            await asyncio.wait([existing.task])

    def supersede(self, user_id: str, source_id: str, version: int) -> int:
        """Cancel work on versions of `source_id` older than `version`; how many were cancelled."""
        found = 0
        for run in list(self._by_id.values()):
            if run.user_id == user_id and run.source_id == source_id and run.version < version and not run.superseded:
                run.superseded = True
                run.task.cancel()
                found += 1
        if found:
            self.cancelled += found
            log.info(
                "cancelled %d derivation(s) of %s older than v%s",
                found,
                source_id,
                version if version < LATEST else "its deletion",
            )
        return found


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
