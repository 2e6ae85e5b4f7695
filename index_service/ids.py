"""Ids and timestamps as the index service makes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def now() -> datetime:
    """UTC now, to the millisecond MongoDB keeps, so events and documents carry equal times."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    return uuid.uuid4().hex
