"""The NATS connection and the STUDIO JetStream stream, created idempotently at start."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from contracts.subjects import PROGRESS_STREAM, PROGRESS_SUBJECTS, STREAM_NAME, STREAM_SUBJECTS

from .retry import PLACEMENT, retrying

log = logging.getLogger(__name__)

STREAM_ALREADY_IN_USE = 10058  # JetStream's code for "same name, other configuration"
NO_SUITABLE_PEERS = 10005  # "no suitable peers for placement": fewer JetStream nodes known than replicas


def stream_config(*, duplicate_window_seconds: float = 300.0, replicas: int = 1) -> StreamConfig:
    """The federation's one stream: every blob, book and processor event, kept on disk."""
    return StreamConfig(
        name=STREAM_NAME,
        subjects=list(STREAM_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=duplicate_window_seconds,
        num_replicas=replicas,
        max_age=30 * 24 * 3600.0,
    )


def progress_stream_config(
    *, max_age_seconds: float = 600.0, max_bytes: int = 256 * 1024 * 1024, replicas: int = 1
) -> StreamConfig:
    """Partial output in flight: kept minutes, in memory (losing it in a broker restart loses
    nothing a client cannot read from the finished blob), oldest dropped past `max_bytes`."""
    return StreamConfig(
        name=PROGRESS_STREAM,
        subjects=list(PROGRESS_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.MEMORY,
        discard=DiscardPolicy.OLD,
        max_age=max_age_seconds,
        max_bytes=max_bytes,
        duplicate_window=min(60.0, max_age_seconds),
        num_replicas=replicas,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig, *, placement_wait: float = 60.0) -> None:
    """Create the stream, or bring an existing one to `config`; safe to run from every service.

    A cluster that is still gathering its nodes cannot place replicas yet: wait for it a while.
    """

    def no_peers_yet(exc: Exception) -> bool:
        if isinstance(exc, BadRequestError) and exc.err_code == NO_SUITABLE_PEERS:
            log.info(
                "stream %s: not enough JetStream peers yet for %s replicas; waiting", config.name, config.num_replicas
            )
            return True
        return False

    await retrying(
        PLACEMENT,
        lambda: _create_or_update(js, config),
        retry_if=no_peers_yet,
        deadline=time.monotonic() + placement_wait,
    )


async def _create_or_update(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        if exc.err_code != STREAM_ALREADY_IN_USE:
            raise
        # Never fewer copies than it has: one instance started without STUDIO_STREAM_REPLICAS
        # must not take a cluster's stream down to one replica. Fewer is an operator's decision.
        existing = (await js.stream_info(str(config.name))).config
        replicas = max(existing.num_replicas or 1, config.num_replicas or 1)
        await js.update_stream(dataclasses.replace(config, num_replicas=replicas))
        log.info("stream %s updated to the current configuration (%d replicas)", config.name, replicas)


async def connect(url: str, *, name: str) -> NatsClient:
    """Connect with endless reconnects: a broker restart must not take the service down."""
    return await nats.connect(
        servers=[u.strip() for u in url.split(",")],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        drain_timeout=5,
    )


async def unsubscribe_quietly(subscription: Any) -> None:
    """Unsubscribe; a subscription already gone with its connection is not an error."""
    if subscription is None:
        return
    try:
        await subscription.unsubscribe()
    except Exception as exc:
        log.debug("unsubscribe: %s", exc)


def nats_ready(nc: NatsClient) -> Callable[[], Awaitable[None]]:
    """A readiness check: the connection to NATS is up."""

    async def check() -> None:
        if not nc.is_connected:
            raise ConnectionError("not connected to NATS")

    return check
