"""Prometheus metrics: requests and latencies per route, plus ledger gauges at scrape time.

With several uvicorn workers, ``gencredits serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh folder before the workers start; every worker then writes its counters there and
``/metrics`` (answered by whichever worker) aggregates them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsMiddleware"]

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the output and nobody graphs them

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

#: A callable returning ledger gauges {name: (help, value)}; set by the app when billing exists.
GaugeSource = Callable[[], dict[str, tuple[str, int]]]


class _LedgerGauges:
    def __init__(self, source: GaugeSource) -> None:
        self.source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            values = self.source()
        except Exception:  # a scrape must not fail because the database is down
            return []
        return [
            GaugeMetricFamily(f"gencredits_{name}", help_text, value=value)
            for name, (help_text, value) in values.items()
        ]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gencredits_http_requests",
            "HTTP requests by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "gencredits_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ("method", "route"),
            buckets=_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.gauge_source: GaugeSource | None = None
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def children(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The labelled counter and histogram, looked up once per (method, route, status):
        ``labels()`` is slower than the rest of a quote."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        return found

    def render(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        output = generate_latest(registry)
        if self.gauge_source is not None:
            gauges = CollectorRegistry()
            gauges.register(_LedgerGauges(self.gauge_source))
            output += generate_latest(gauges)
        return bytes(output)


class MetricsMiddleware:
    """Pure ASGI (cheaper than BaseHTTPMiddleware): counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            counter, histogram = self.metrics.children(method, template, status)
            counter.inc()
            histogram.observe(time.perf_counter() - started)
