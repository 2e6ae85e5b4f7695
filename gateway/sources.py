"""The stores behind the gateway: one batch call each, with a deadline, a circuit breaker, metrics."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from contracts.models import BlobBatchRequest
from servicekit.middleware import REQUEST_ID_HEADER
from servicekit.urls import UrlPath, upstream_url, url_path

from .breaker import CircuitBreaker
from .limiter import AdaptiveLimit, Shed
from .metrics import GatewayMetrics

# Answers that say the source cannot serve anyone right now; they count towards its circuit.
UNAVAILABLE_STATUSES = frozenset({401, 429, 502, 503, 504})
SHED = "shed"  # not sent: the source was at its concurrency limit for the whole budget
BUDGET_HEADER = "X-Studio-Budget-Ms"  # what is left of the client's request budget, for the source
BATCH_PATH = url_path("blobs", "batch")  # where a store answers a batch of ids, unless told otherwise


@dataclass
class SourceResult:
    """What one source answered: its blobs by id, the ids it did not have, or why it did not answer."""

    source: str
    status: str  # ok | unavailable | shed
    ms: float
    blobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    retry_after: float | None = None  # when shed: when to ask again

    def summary(self) -> dict[str, Any]:
        return {"status": self.status, "ms": round(self.ms, 1), "count": len(self.blobs)}


class SourceFailed(Exception):
    """A source did not answer in time, answered with an error, or its circuit is open."""


class Source:
    """One service the gateway reads from: an adaptive concurrency limit, then a circuit breaker."""

    def __init__(
        self,
        name: str,
        base_url: str,
        session: aiohttp.ClientSession,
        token: str,
        metrics: GatewayMetrics,
        *,
        batch_path: UrlPath = BATCH_PATH,
        breaker: CircuitBreaker | None = None,
        limit: AdaptiveLimit | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.batch_path = batch_path
        self._session = session
        self._headers = {"Authorization": f"Bearer {token}"}
        self._metrics = metrics
        self.breaker = breaker or CircuitBreaker()
        self.limit = limit or AdaptiveLimit(name)

    def count_shed(self) -> None:
        """A request was refused before calling this source, because of this source's queue."""
        self.limit.shed += 1
        self._metrics.shed.labels(self.name).inc()

    def _gauges(self) -> None:
        self._metrics.circuit.labels(self.name).set(int(self.breaker.state))
        self._metrics.limit.labels(self.name).set(self.limit.limit)
        self._metrics.in_flight.labels(self.name).set(self.limit.in_flight)
        self._metrics.queued.labels(self.name).set(self.limit.queued)

    async def request(
        self,
        method: str,
        path: UrlPath,
        *,
        request_id: str,
        deadline: float,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, bytes]:
        """One call, sent once a slot is free before `deadline` (monotonic), then within its own
        timeout; Shed when no slot comes in time, SourceFailed when it does not answer well."""
        try:
            await self.limit.acquire(deadline)
        except Shed:
            self._metrics.shed.labels(self.name).inc()
            self._gauges()
            raise
        if not self.breaker.allow():
            self.limit.release(None, dropped=False)
            self._gauges()
            self._metrics.upstream_requests.labels(self.name, "circuit-open").inc()
            raise SourceFailed(f"{self.name}: circuit open after repeated failures")
        self._gauges()
        timeout = self.limit.timeout()
        headers = {**self._headers, REQUEST_ID_HEADER: request_id, BUDGET_HEADER: str(max(1, int(timeout * 1000)))}
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        latency: float | None = None
        try:
            async with asyncio.timeout(timeout):
                async with self._session.request(
                    method,
                    upstream_url(self.base_url, path),
                    params=params,
                    headers=headers,
                    data=None if body is None else msgspec.json.encode(body),
                ) as response:
                    payload = await response.read()
                    status = response.status
            latency = time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            timed_out = isinstance(exc, TimeoutError)
            self._fail("timeout" if timed_out else "error", started)
            reason = f"no answer within {round(timeout * 1000)} ms" if timed_out else type(exc).__name__
            raise SourceFailed(f"{self.name}: {reason}") from exc
        finally:
            failed = latency is None
            self.limit.release(latency, dropped=failed)
            self._gauges()
        if status in UNAVAILABLE_STATUSES:
            self._fail(f"http-{status}", started)
            raise SourceFailed(f"{self.name} answered {status}")
        if status >= 500:
            # The source is up and answered: an error of its own on this one request (perhaps one
            # user's data) must not open a circuit that every other user's requests go through.
            self._metrics.upstream_requests.labels(self.name, f"http-{status}").inc()
            raise SourceFailed(f"{self.name} answered {status}")
        self.breaker.success()
        self._metrics.circuit.labels(self.name).set(int(self.breaker.state))
        self._metrics.upstream_requests.labels(self.name, "ok").inc()
        self._metrics.upstream_latency.labels(self.name).observe(time.perf_counter() - started)
        return status, payload

    def _fail(self, outcome: str, started: float) -> None:
        self.breaker.failure()
        self._metrics.circuit.labels(self.name).set(int(self.breaker.state))
        self._metrics.upstream_requests.labels(self.name, outcome).inc()
        self._metrics.upstream_latency.labels(self.name).observe(time.perf_counter() - started)

    async def batch(self, user_id: str, ids: list[str], *, request_id: str, deadline: float) -> SourceResult:
        """`POST <batch_path> {user_id, ids}`; never raises: a failure or a shed call is a result too."""
        started = time.perf_counter()
        try:
            status, payload = await self.request(
                "POST",
                self.batch_path,
                request_id=request_id,
                deadline=deadline,
                body=BlobBatchRequest(user_id=user_id, ids=ids),
            )
            if status != 200:
                raise SourceFailed(f"{self.name} refused the batch: {status}")
            answer = msgspec.json.decode(payload)
        except Shed as exc:
            return SourceResult(
                self.name, SHED, (time.perf_counter() - started) * 1000, error=str(exc), retry_after=exc.retry_after
            )
        except (SourceFailed, msgspec.DecodeError) as exc:
            return SourceResult(self.name, "unavailable", (time.perf_counter() - started) * 1000, error=str(exc))
        return SourceResult(
            self.name,
            "ok",
            (time.perf_counter() - started) * 1000,
            blobs={b["id"]: b for b in answer["blobs"]},
            missing=list(answer.get("missing", [])),
        )
