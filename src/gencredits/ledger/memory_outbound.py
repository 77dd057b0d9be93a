"""The in-memory outbound store (the reference of :class:`~.outbound.OutboundStore`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gencredits.ledger.outbound import (
    FINISHED,
    WEBHOOK_CURSOR,
    Delivery,
    DeliveryStatus,
    Endpoint,
)

__all__ = ["MemoryOutbound"]


class MemoryOutbound:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.endpoints: dict[str, Endpoint] = {}
        self.queue: dict[tuple[str, str], Delivery] = {}
        self.position: str | None = None
        self.named: dict[str, str] = {}

    def insert_endpoint(self, endpoint: Endpoint) -> bool:
        with self._lock:
            if endpoint.id in self.endpoints:
                return False
            self.endpoints[endpoint.id] = endpoint
            return True

    def get_endpoint(self, endpoint_id: str) -> Endpoint | None:
        return self.endpoints.get(endpoint_id)

    def list_endpoints(self) -> list[Endpoint]:
        with self._lock:
            return sorted(self.endpoints.values(), key=lambda e: e.id)

    def update_endpoint(self, endpoint: Endpoint) -> None:
        with self._lock:
            self.endpoints[endpoint.id] = endpoint

    def cursor(self) -> str | None:
        return self.position

    def named_cursor(self, name: str) -> str | None:
        return self.named.get(name)

    def cursors(self) -> dict[str, str | None]:
        with self._lock:
            mine = {} if self.position is None else {WEBHOOK_CURSOR: self.position}
            return {**self.named, **mine}

    def forget_cursor(self, name: str) -> bool:
        with self._lock:
            if name == WEBHOOK_CURSOR:
                known, self.position = self.position is not None, None
                return known
            return self.named.pop(name, None) is not None

    def move_cursor(self, name: str, expected: str | None, cursor: str) -> bool:
        with self._lock:
            if self.named.get(name) != expected:
                return False
            self.named[name] = cursor
            return True

    def advance(self, expected: str | None, cursor: str, deliveries: Sequence[Delivery]) -> bool:
        with self._lock:
            if self.position != expected:
                return False
            for d in deliveries:
                self.queue.setdefault((d.endpoint_id, d.event_id), d)
            self.position = cursor
            return True

    def due(self, now: datetime, limit: int) -> list[Delivery]:
        with self._lock:
            found = [
                d
                for d in self.queue.values()
                if d.status == DeliveryStatus.PENDING and d.next_at <= now
            ]
        return sorted(found, key=lambda d: (d.next_at, d.created_at))[:limit]

    def claim(self, delivery: Delivery, until: datetime) -> bool:
        key = (delivery.endpoint_id, delivery.event_id)
        with self._lock:
            now = self.queue.get(key)
            if now is None or (now.status, now.attempts, now.next_at) != (
                delivery.status,
                delivery.attempts,
                delivery.next_at,
            ):
                return False
            self.queue[key] = replace(now, next_at=until)
            return True

    def save(self, delivery: Delivery) -> None:
        with self._lock:
            self.queue[(delivery.endpoint_id, delivery.event_id)] = delivery

    def forget_deliveries(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            old = sorted(
                (d.next_at, key)
                for key, d in self.queue.items()
                if d.status in FINISHED and d.next_at < before
            )[:limit]
            for _at, key in old:
                del self.queue[key]
        return len(old)

    def get_delivery(self, endpoint_id: str, event_id: str) -> Delivery | None:
        return self.queue.get((endpoint_id, event_id))

    def deliveries(
        self, endpoint_id: str | None, *, after: tuple[str, str] | None, limit: int
    ) -> list[Delivery]:
        with self._lock:
            keys = sorted(
                k
                for k in self.queue
                if (endpoint_id is None or k[0] == endpoint_id) and (after is None or k > after)
            )
            return [self.queue[k] for k in keys[:limit]]
