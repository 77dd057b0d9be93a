"""Outbound webhook endpoints of :class:`~gencredits.billing.Billing`: register, list, enable,
read the delivery log, redeliver; and :func:`enqueue`, which turns new outbox events into
deliveries.  Posting them is the deliverer's (:mod:`gencredits.webhooks`), which needs an
HTTP client that billing does not import.

Which events an endpoint gets: those of its wallet (or every wallet's), whose type is in
its ``types`` (``*``: all).  Two alert types are derived from ledger events:
``alert.purchase_credited`` (a ``grant.created`` of kind ``purchase``) and
``alert.job_refunded`` (a job failed, cancelled or timed out that gave credits back).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pydantic import Field

from gencredits import limits
from gencredits.clock import Clock
from gencredits.errors import EndpointNotFound, InvalidRequest
from gencredits.ledger.model import Event, EventType
from gencredits.ledger.outbound import Delivery, DeliveryStatus, Endpoint, OutboundStore
from gencredits.ledger.store import LedgerStore

from .ids import digest
from .inputs import check_id, check_int, check_text
from .purchases import EVENT_PURCHASE_CREDITED, EVENT_PURCHASE_TAKEN_BACK
from .subscriptions import EVENT_CYCLE_GRANTED, EVENT_ENDED
from .views import Instant, Page, Wire

__all__ = ["DeliveryView", "WebhookOperations", "WebhookView", "delivered_as", "enqueue"]

PURCHASE_CREDITED = "alert.purchase_credited"
JOB_REFUNDED = "alert.job_refunded"
#: Events made by plans and packs, beside the ledger's own (EventType)
PLAN_EVENTS = (EVENT_PURCHASE_CREDITED, EVENT_PURCHASE_TAKEN_BACK, EVENT_CYCLE_GRANTED, EVENT_ENDED)
EVENT_TYPES = (*(str(t) for t in EventType), *PLAN_EVENTS, PURCHASE_CREDITED, JOB_REFUNDED, "*")
_REFUNDS = (EventType.JOB_FAILED, EventType.JOB_CANCELLED, EventType.JOB_TIMED_OUT)
URL_LEN_MAX = 2000
SECRET_LEN_MIN, SECRET_LEN_MAX = 16, 300
ENQUEUE_PAGE = 500


class WebhookView(Wire):
    id: str
    url: str
    wallet_id: str | None = Field(description="null: every wallet's events.")
    types: tuple[str, ...]
    active: bool = Field(description="False once disabled after repeated failures.")
    failures: int = Field(description="Consecutive failed attempts.")
    created_at: Instant
    disabled_at: Instant | None = None

    @classmethod
    def of(cls, e: Endpoint) -> WebhookView:
        return cls.of_record(e)


class DeliveryView(Wire):
    endpoint_id: str
    event_id: str = Field(description="Sent as Gencredits-Event-Id: the same on every attempt.")
    event_type: str
    wallet_id: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_at: Instant
    created_at: Instant
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: Instant | None = None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryView:
        return cls.of_record(d)


def delivered_as(event: Event) -> tuple[str, ...]:
    """The types an event may be delivered as: its own, then the alert derived from it."""
    if event.type == EventType.GRANT_CREATED and event.payload.get("kind") == "purchase":
        return (event.type, PURCHASE_CREDITED)
    if event.type in _REFUNDS and event.payload.get("released"):
        return (event.type, JOB_REFUNDED)
    return (event.type,)


def event_body(event: Event, as_type: str) -> str:
    """The JSON posted: fixed when enqueued, so every attempt sends the same bytes."""
    data = event.to_dict()
    body = {"id": event.cursor, "type": as_type, "source_type": event.type}
    fields = ("wallet_id", "subject_id", "created_at", "payload", "wallet_version", "version_seq")
    body |= {k: data[k] for k in fields}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def _matches(endpoint: Endpoint, event: Event) -> str | None:
    if not endpoint.active or endpoint.wallet_id not in (None, event.wallet_id):
        return None
    if event.created_at < endpoint.created_at:
        return None  # an endpoint gets what happens from its registration on
    for kind in delivered_as(event):
        if kind in endpoint.types:
            return kind
    return event.type if "*" in endpoint.types else None


def enqueue(store: LedgerStore, outbound: OutboundStore, now: datetime) -> int:
    """Turn the outbox events after the deliverer's cursor into deliveries (one per
    matching endpoint), moving the cursor in the same transaction.  Returns how many
    deliveries were made; 0 when another deliverer moved the cursor first."""
    made = 0
    while True:
        position = outbound.cursor()
        after = None
        if position is not None:
            txid, _, seq = position.partition("-")
            after = (int(txid), int(seq))
        with store.reader() as reader:
            events = reader.events(after=after, limit=ENQUEUE_PAGE)
        if not events:
            return made
        endpoints = outbound.list_endpoints()
        deliveries: list[Delivery] = []
        for event in events:
            for endpoint in endpoints:
                kind = _matches(endpoint, event)
                if kind is not None:
                    body = event_body(event, kind)
                    pending = DeliveryStatus.PENDING
                    item = (endpoint.id, event.cursor, kind, event.wallet_id, body, pending)
                    deliveries.append(Delivery(*item, attempts=0, next_at=now, created_at=now))
        if not outbound.advance(position, events[-1].cursor, deliveries):
            return made
        made += len(deliveries)


class WebhookOperations:
    """Mixed into :class:`~gencredits.billing.Billing` (it provides ``store`` and ``clock``)."""

    store: LedgerStore
    clock: Clock

    def add_webhook(
        self,
        url: str,
        secret: str,
        *,
        wallet_id: str | None = None,
        types: Sequence[str] = ("*",),
        endpoint_id: str | None = None,
    ) -> WebhookView:
        """Register an endpoint for one wallet's events (or every wallet's) of ``types``;
        deliveries are signed with ``secret`` (see docs/webhooks.md).  Registering the same
        id again answers the endpoint as it is."""
        check_text("url", url, URL_LEN_MAX)
        if not url.startswith(("http://", "https://")):
            raise InvalidRequest.for_field("url", url, "an http:// or https:// URL")
        check_text("secret", secret, SECRET_LEN_MAX)
        if len(secret) < SECRET_LEN_MIN:
            raise InvalidRequest.for_field(
                "secret", "<hidden>", f"at least {SECRET_LEN_MIN} characters"
            )
        if wallet_id is not None:
            check_id("wallet_id", wallet_id)
        wanted = tuple(dict.fromkeys(types))
        if not wanted or any(t not in EVENT_TYPES for t in wanted):
            raise InvalidRequest.for_field(
                "types", list(types), f"some of {', '.join(EVENT_TYPES)}"
            )
        made = endpoint_id or "wh_" + digest("webhook", url, wallet_id or "*")
        check_id("endpoint_id", made)
        now = self.clock.now()
        endpoint = Endpoint(made, url, secret, wallet_id, wanted, True, 0, now)
        outbound = self.store.outbound()
        outbound.insert_endpoint(endpoint)
        return WebhookView.of(self._endpoint(outbound, made))

    @staticmethod
    def _endpoint(outbound: OutboundStore, endpoint_id: str) -> Endpoint:
        found = outbound.get_endpoint(endpoint_id)
        if found is None:
            raise EndpointNotFound(
                f"endpoint_id: {endpoint_id!r} is not a registered webhook endpoint",
                details={"field": "endpoint_id", "value": endpoint_id},
            )
        return found

    def list_webhooks(self) -> list[WebhookView]:
        return [WebhookView.of(e) for e in self.store.outbound().list_endpoints()]

    def enable_webhook(self, endpoint_id: str) -> WebhookView:
        """Turn a disabled endpoint back on (its failure count restarts at 0)."""
        outbound = self.store.outbound()
        endpoint = replace(self._endpoint(outbound, endpoint_id), active=True, failures=0)
        outbound.update_endpoint(replace(endpoint, disabled_at=None))
        return WebhookView.of(self._endpoint(outbound, endpoint_id))

    def webhook_deliveries(
        self, endpoint_id: str | None = None, *, cursor: str | None = None, limit: int = 50
    ) -> Page[DeliveryView]:
        """The delivery log, by endpoint and event; pass ``next_cursor`` for more."""
        check_int("limit", limit, 1, limits.PAGE_MAX)
        after = None
        if cursor is not None:
            endpoint, sep, event = cursor.partition("|")
            if not sep:
                raise InvalidRequest.for_field("cursor", cursor, "the next_cursor of a page")
            after = (endpoint, event)
        found = self.store.outbound().deliveries(endpoint_id, after=after, limit=limit + 1)
        items = [DeliveryView.of(d) for d in found[:limit]]
        more = len(found) > limit
        last = items[-1] if items else None
        following = f"{last.endpoint_id}|{last.event_id}" if more and last else None
        return Page(items=items, next_cursor=following)

    def redeliver(self, endpoint_id: str, event_id: str) -> DeliveryView:
        """Send a delivery again (at the deliverer's next run), whatever its status; the
        receiver gets the same body and event id."""
        outbound = self.store.outbound()
        found = outbound.get_delivery(endpoint_id, event_id)
        if found is None:
            raise EndpointNotFound(
                f"no delivery of event {event_id!r} to endpoint {endpoint_id!r}",
                details={"field": "event_id", "value": event_id, "endpoint_id": endpoint_id},
            )
        again = replace(found, status=DeliveryStatus.PENDING, next_at=self.clock.now())
        outbound.save(again)
        return DeliveryView.of(again)
