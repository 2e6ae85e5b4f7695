"""The stores behind the gateway: one batch call each, with a deadline, a circuit breaker, metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from contracts.models import BlobBatchRequest
from gateway.metrics import GatewayMetrics
from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.limiter import AdaptiveLimit, Shed
from servicekit.client import Answer, ServiceClient, ServiceFailed, ServiceUnavailable
from servicekit.urls import UrlPath, url_path

T = TypeVar("T")
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
    """One service the gateway reads from: an adaptive concurrency limit, then a circuit breaker,
    then the service client."""

    def __init__(
        self,
        client: ServiceClient,
        metrics: GatewayMetrics,
        *,
        batch_path: UrlPath = BATCH_PATH,
        breaker: CircuitBreaker | None = None,
        limit: AdaptiveLimit | None = None,
    ) -> None:
        self.client = client
        self.name = client.name
        self.base_url = client.base_url
        self.batch_path = batch_path
        self._metrics = metrics
        self.breaker = breaker or CircuitBreaker()
        self.limit = limit or AdaptiveLimit(self.name)

    def count_shed(self) -> None:
        """A request was refused before calling this source, because of this source's queue."""
        self.limit.shed += 1
        self._metrics.shed.labels(self.name).inc()

    def _gauges(self) -> None:
        self._metrics.circuit.labels(self.name).set(int(self.breaker.state))
        self._metrics.limit.labels(self.name).set(self.limit.limit)
        self._metrics.in_flight.labels(self.name).set(self.limit.in_flight)
        self._metrics.queued.labels(self.name).set(self.limit.queued)

    async def _call(self, deadline: float, call: Callable[[float], Awaitable[T]]) -> T:
        """`call(timeout)` once a slot is free before `deadline` (monotonic), within the slot's
        own timeout; Shed when no slot comes in time, SourceFailed when it does not answer well."""
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
        started = time.perf_counter()
        latency: float | None = None
        try:
            result = await call(timeout)
            latency = time.perf_counter() - started
        except ServiceUnavailable as exc:
            self._fail(f"http-{exc.answer.status}" if exc.answer is not None else _outcome(exc), started)
            raise SourceFailed(str(exc)) from exc
        except ServiceFailed as exc:
            # The source is up and answered: an error of its own on this one request (perhaps one
            # user's data) must not open a circuit that every other user's requests go through.
            latency = time.perf_counter() - started
            outcome = f"http-{exc.answer.status}" if exc.answer is not None else "bad-answer"
            self._metrics.upstream_requests.labels(self.name, outcome).inc()
            raise SourceFailed(str(exc)) from exc
        finally:
            self.limit.release(latency, dropped=latency is None)
            self._gauges()
        self.breaker.success()
        self._metrics.circuit.labels(self.name).set(int(self.breaker.state))
        self._metrics.upstream_requests.labels(self.name, "ok").inc()
        self._metrics.upstream_latency.labels(self.name).observe(time.perf_counter() - started)
        return result

    def _budget(self, timeout: float) -> dict[str, str]:
        return {BUDGET_HEADER: str(max(1, int(timeout * 1000)))}

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
        """One call through the limit and the breaker; its status and body."""

        async def call(timeout: float) -> Answer:
            return await self.client.request(
                method,
                path,
                params=params,
                body=body,
                headers=self._budget(timeout),
                request_id=request_id,
                timeout=timeout,
            )

        answer = await self._call(deadline, call)
        return answer.status, answer.body

    def _fail(self, outcome: str, started: float) -> None:
        self.breaker.failure()
        self._metrics.circuit.labels(self.name).set(int(self.breaker.state))
        self._metrics.upstream_requests.labels(self.name, outcome).inc()
        self._metrics.upstream_latency.labels(self.name).observe(time.perf_counter() - started)

    async def batch(self, user_id: str, ids: list[str], *, request_id: str, deadline: float) -> SourceResult:
        """`POST <batch_path> {user_id, ids}`; never raises: a failure or a shed call is a result too."""
        started = time.perf_counter()

        async def call(timeout: float) -> tuple[dict[str, dict[str, Any]], list[str]]:
            return await self.client.batch(
                self.batch_path,
                BlobBatchRequest(user_id=user_id, ids=ids),
                headers=self._budget(timeout),
                request_id=request_id,
                timeout=timeout,
            )

        try:
            blobs, missing = await self._call(deadline, call)
        except Shed as exc:
            return SourceResult(
                self.name, SHED, (time.perf_counter() - started) * 1000, error=str(exc), retry_after=exc.retry_after
            )
        except SourceFailed as exc:
            return SourceResult(self.name, "unavailable", (time.perf_counter() - started) * 1000, error=str(exc))
        return SourceResult(self.name, "ok", (time.perf_counter() - started) * 1000, blobs=blobs, missing=missing)


def _outcome(exc: ServiceUnavailable) -> str:
    return "timeout" if isinstance(exc.__cause__, TimeoutError) else "error"
