"""Where a compile reads expansions from: text expansion's query API, found in the registry."""

from __future__ import annotations

import logging
from typing import Any

from processors.runtime.errors import ProcessingError
from processors.runtime.peers import Peers

log = logging.getLogger(__name__)


class ExpansionSource:
    """Text expansion's batch call; a compile that cannot ask it compiles from the drafts."""

    def __init__(self, peers: Peers, *, processor_id: str, timeout: float) -> None:
        self._peers = peers
        self._processor_id = processor_id
        self._timeout = timeout

    async def batch(self, user_id: str, ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """The expansions by id, in one call; None when text expansion cannot be asked."""
        if not ids:
            return {}
        try:
            return await self._peers.batch(self._processor_id, user_id, ids, active_only=True, timeout=self._timeout)
        except ProcessingError as exc:
            log.warning("text expansion cannot be asked (%s); compiling from drafts", exc)
            return None
