"""The outbound store on SQL (:class:`~gencredits.ledger.outbound.OutboundStore`): webhook
endpoints, the deliverer's cursor and the deliveries, each call one short transaction.

The cursor moves by compare-and-set (``UPDATE ... WHERE position = expected``, or an insert
that the primary key lets only one deliverer make), in the transaction that inserts the
deliveries; a claim is a compare-and-set on the delivery's attempts and ``next_at``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gencredits.ledger.outbound import (
    FINISHED,
    WEBHOOK_CURSOR,
    Delivery,
    DeliveryStatus,
    Endpoint,
)
from gencredits.storage.sql import schema as t

__all__ = ["SqlOutbound"]

_CURSOR = WEBHOOK_CURSOR
_E, _D, _C = t.webhook_endpoints, t.webhook_deliveries, t.webhook_cursor


def _endpoint_of(r: Any) -> Endpoint:
    return Endpoint(
        id=r.id,
        url=r.url,
        secret=r.secret,
        wallet_id=r.wallet_id,
        types=tuple(r.types),
        active=bool(r.active),
        failures=r.failures,
        created_at=r.created_at,
        disabled_at=r.disabled_at,
    )


def _endpoint_row(e: Endpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "url": e.url,
        "secret": e.secret,
        "wallet_id": e.wallet_id,
        "types": list(e.types),
        "active": e.active,
        "failures": e.failures,
        "created_at": e.created_at,
        "disabled_at": e.disabled_at,
    }


_DELIVERY_FIELDS = (
    "endpoint_id",
    "event_id",
    "event_type",
    "wallet_id",
    "body",
    "status",
    "attempts",
    "next_at",
    "created_at",
    "last_status",
    "last_error",
    "delivered_at",
)


def _delivery_of(r: Any) -> Delivery:
    return Delivery(**{name: getattr(r, name) for name in _DELIVERY_FIELDS})


def _delivery_row(d: Delivery) -> dict[str, Any]:
    return {name: getattr(d, name) for name in _DELIVERY_FIELDS}


class SqlOutbound:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def insert_endpoint(self, endpoint: Endpoint) -> bool:
        try:
            with self._tx() as c:
                c.execute(_E.insert(), _endpoint_row(endpoint))
        except sa.exc.IntegrityError:
            return False
        return True

    def get_endpoint(self, endpoint_id: str) -> Endpoint | None:
        with self._tx() as c:
            row = c.execute(sa.select(_E).where(_E.c.id == endpoint_id)).first()
        return None if row is None else _endpoint_of(row)

    def list_endpoints(self) -> list[Endpoint]:
        with self._tx() as c:
            return [_endpoint_of(r) for r in c.execute(sa.select(_E).order_by(_E.c.id))]

    def update_endpoint(self, endpoint: Endpoint) -> None:
        row = _endpoint_row(endpoint)
        with self._tx() as c:
            c.execute(_E.update().where(_E.c.id == endpoint.id).values(**row))

    def cursor(self) -> str | None:
        return self.named_cursor(_CURSOR)

    def named_cursor(self, name: str) -> str | None:
        with self._tx() as c:
            row = c.execute(sa.select(_C.c.position).where(_C.c.name == name)).first()
        return None if row is None else row.position

    def cursors(self) -> dict[str, str | None]:
        with self._tx() as c:
            return {r.name: r.position for r in c.execute(sa.select(_C.c.name, _C.c.position))}

    def forget_cursor(self, name: str) -> bool:
        with self._tx() as c:
            return int(c.execute(_C.delete().where(_C.c.name == name)).rowcount) > 0

    def move_cursor(self, name: str, expected: str | None, cursor: str) -> bool:
        return self._move(name, expected, cursor, ())

    def advance(self, expected: str | None, cursor: str, deliveries: Sequence[Delivery]) -> bool:
        return self._move(_CURSOR, expected, cursor, deliveries)

    def _move(
        self, name: str, expected: str | None, cursor: str, deliveries: Sequence[Delivery]
    ) -> bool:
        try:
            with self._tx() as c:
                if expected is None:
                    c.execute(_C.insert(), {"name": name, "position": cursor})
                else:
                    moved = c.execute(
                        _C.update()
                        .where(_C.c.name == name, _C.c.position == expected)
                        .values(position=cursor)
                    )
                    if moved.rowcount != 1:
                        raise _Lost
                if deliveries:
                    c.execute(_D.insert(), [_delivery_row(d) for d in deliveries])
        except (_Lost, sa.exc.IntegrityError):
            return False
        return True

    def due(self, now: datetime, limit: int) -> list[Delivery]:
        q = (
            sa.select(_D)
            .where(_D.c.status == DeliveryStatus.PENDING, _D.c.next_at <= now)
            .order_by(_D.c.next_at, _D.c.created_at)
            .limit(limit)
        )
        with self._tx() as c:
            return [_delivery_of(r) for r in c.execute(q)]

    def claim(self, delivery: Delivery, until: datetime) -> bool:
        q = (
            _D.update()
            .where(
                _D.c.endpoint_id == delivery.endpoint_id,
                _D.c.event_id == delivery.event_id,
                _D.c.status == delivery.status,
                _D.c.attempts == delivery.attempts,
                _D.c.next_at == delivery.next_at,
            )
            .values(next_at=until)
        )
        with self._tx() as c:
            return c.execute(q).rowcount == 1

    def save(self, delivery: Delivery) -> None:
        row = _delivery_row(delivery)
        q = _D.update().where(
            _D.c.endpoint_id == delivery.endpoint_id, _D.c.event_id == delivery.event_id
        )
        with self._tx() as c:
            c.execute(q.values(**row))

    def forget_deliveries(self, before: datetime, *, limit: int) -> int:
        """One bounded delete, oldest first, per finished status through the
        ``(status, next_at)`` index."""
        gone = 0
        with self._tx() as c:
            for status in FINISHED:
                oldest = (
                    sa.select(_D.c.endpoint_id, _D.c.event_id)
                    .where(_D.c.status == status, _D.c.next_at < before)
                    .order_by(_D.c.next_at)
                    .limit(limit - gone)
                )
                key = sa.tuple_(_D.c.endpoint_id, _D.c.event_id)
                gone += int(c.execute(_D.delete().where(key.in_(oldest))).rowcount)
                if gone >= limit:
                    break
        return gone

    def get_delivery(self, endpoint_id: str, event_id: str) -> Delivery | None:
        q = sa.select(_D).where(_D.c.endpoint_id == endpoint_id, _D.c.event_id == event_id)
        with self._tx() as c:
            row = c.execute(q).first()
        return None if row is None else _delivery_of(row)

    def deliveries(
        self, endpoint_id: str | None, *, after: tuple[str, str] | None, limit: int
    ) -> list[Delivery]:
        q = sa.select(_D).order_by(_D.c.endpoint_id, _D.c.event_id).limit(limit)
        if endpoint_id is not None:
            q = q.where(_D.c.endpoint_id == endpoint_id)
        if after is not None:
            mark = sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
            q = q.where(sa.tuple_(_D.c.endpoint_id, _D.c.event_id) > mark)
        with self._tx() as c:
            return [_delivery_of(r) for r in c.execute(q)]


class _Lost(Exception):
    """Another deliverer moved the cursor first."""
