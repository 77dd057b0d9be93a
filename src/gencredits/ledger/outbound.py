"""Outbound webhooks: endpoints, deliveries and the port that stores them.

The outbox (:meth:`LedgerReader.events`) is the source: every alert and ledger change is an
event there, committed with the change.  A deliverer turns events into deliveries, one per
(endpoint, event), and moves its cursor over the outbox in the same transaction
(:meth:`OutboundStore.advance`, a compare-and-set on the cursor, so two deliverers never
both enqueue the same events).  A delivery is then attempted until the receiver answers
2xx, with backoff, and claimed before each attempt (:meth:`OutboundStore.claim`, a
compare-and-set on its attempt count), so two deliverers do not post it at once.  Delivery
is at least once: a crash between the receiver's answer and the record of it posts again,
with the same event id, which receivers use to drop repeats.

Every cursor over the outbox (the deliverer's, ``webhooks``, and each relay's, e.g.
``nats:STREAM``) is a consumer the outbox's retention waits for: an event is deleted only
once it is older than the retention AND every consumer has passed it
(:func:`consumed_through`; docs/ledger.md, "Retention").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

__all__ = [
    "EVERYTHING",
    "FINISHED",
    "WEBHOOK_CURSOR",
    "Delivery",
    "DeliveryStatus",
    "Endpoint",
    "OutboundStore",
    "consumed_through",
]

#: The deliverer's cursor name (the relays name theirs after their target).
WEBHOOK_CURSOR = "webhooks"
#: :func:`consumed_through` when nobody reads the outbox: every position is passed.
EVERYTHING = (2**63 - 1, 2**63 - 1)


def consumed_through(cursors: Mapping[str, str | None], endpoints: bool) -> tuple[int, int] | None:
    """The outbox position (``(txid, seq)``, see :attr:`~.model.Event.position`) that every
    consumer has passed, given every cursor there is (name to ``TXID-SEQ``) and whether any
    webhook endpoint is registered; ``None``: nothing may be deleted.

    * A cursor that exists is a consumer; the lowest one bounds what may go.  One that does
      not parse (or has no position) holds everything back.
    * A relay that has never moved its cursor is not a consumer yet: when it starts it
      publishes from the oldest event kept.
    * The deliverer is a consumer once an endpoint is registered, even before its cursor
      exists (nothing may go until it has one); with no endpoint and no cursor it is not
      (an endpoint gets events from its registration on, so it never needs older ones).
    * No consumer at all: :data:`EVERYTHING` (only the age counts).
    """
    if endpoints and cursors.get(WEBHOOK_CURSOR) is None:
        return None
    lowest = EVERYTHING
    for cursor in cursors.values():
        txid, sep, seq = (cursor or "").partition("-")
        if not (sep and txid.isdigit() and seq.isdigit()):
            return None
        lowest = min(lowest, (int(txid), int(seq)))
    return lowest


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # to be attempted at next_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # gave up after the most attempts (redeliver to try again)


#: A delivery in one of these states is done; the deliverer forgets it after the outbox
#: retention (docs/ledger.md, "Retention").
FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A receiver of events: a URL and its signing secret, for one wallet (``wallet_id``)
    or all (``None``), for some event types (``*``: all)."""

    id: str
    url: str
    secret: str
    wallet_id: str | None
    types: tuple[str, ...]
    active: bool
    failures: int  # consecutive failed attempts; reset by a success
    created_at: datetime
    disabled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one endpoint: the body sent (fixed at enqueue) and its attempts."""

    endpoint_id: str
    event_id: str
    event_type: str
    wallet_id: str
    body: str
    status: str  # a DeliveryStatus
    attempts: int
    next_at: datetime
    created_at: datetime
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


class OutboundStore(Protocol):
    # --- endpoints ---------------------------------------------------------------------
    def insert_endpoint(self, endpoint: Endpoint) -> bool:
        """Add it; ``False`` when an endpoint with that id exists (nothing changed)."""
        ...

    def get_endpoint(self, endpoint_id: str) -> Endpoint | None: ...
    def list_endpoints(self) -> list[Endpoint]: ...
    def update_endpoint(self, endpoint: Endpoint) -> None: ...

    # --- the cursor over the outbox and the queue ------------------------------------------
    def cursor(self) -> str | None:
        """The outbox cursor of the last event enqueued (``None``: none yet)."""
        ...

    def advance(self, expected: str | None, cursor: str, deliveries: Sequence[Delivery]) -> bool:
        """Atomically: if the cursor is still ``expected``, insert ``deliveries`` and set
        the cursor to ``cursor``; else change nothing and answer ``False``."""
        ...

    def named_cursor(self, name: str) -> str | None:
        """Another reader's outbox cursor (e.g. ``relay:nats:STREAM``), ``None``: none yet."""
        ...

    def move_cursor(self, name: str, expected: str | None, cursor: str) -> bool:
        """Compare-and-set: if the cursor ``name`` is still ``expected``, set it to
        ``cursor``; else change nothing and answer ``False``."""
        ...

    def cursors(self) -> dict[str, str | None]:
        """Every cursor over the outbox by name (the deliverer's is :data:`WEBHOOK_CURSOR`)."""
        ...

    def forget_cursor(self, name: str) -> bool:
        """Remove the cursor ``name`` (a consumer taken out of service), so that outbox
        retention stops waiting for it; ``False``: there was none by that name."""
        ...

    def due(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose ``next_at`` has come, oldest first."""
        ...

    def claim(self, delivery: Delivery, until: datetime) -> bool:
        """Take ``delivery`` for one attempt: its ``next_at`` becomes ``until`` if it is
        still as read (same status and attempts); ``False`` when another deliverer has it."""
        ...

    def save(self, delivery: Delivery) -> None:
        """Record an attempt's result (status, attempts, next_at, last_*, delivered_at)."""
        ...

    def get_delivery(self, endpoint_id: str, event_id: str) -> Delivery | None: ...

    def forget_deliveries(self, before: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` finished deliveries (delivered, or failed for good) last
        scheduled before ``before``, oldest first; pending ones are never deleted."""
        ...

    def deliveries(
        self, endpoint_id: str | None, *, after: tuple[str, str] | None, limit: int
    ) -> list[Delivery]:
        """The delivery log, by (endpoint, event id), after ``after``."""
        ...
