"""The log of payment provider events (Stripe webhooks): what became of each event, by its id.

A row is written for every verified event, whatever became of it: ``applied`` (credits or
a subscription moved), ``ignored`` (an unknown type, or no known wallet: nothing moved),
``pending`` (it names a purchase or subscription not known yet: applied when that arrives),
``rejected`` (the ledger refused it, e.g. an unknown pack: the error is kept).  Credits move
under the ledger's own idempotency record (key ``stripe:<event id>``), written in the same
transaction as the movement, so an event is applied at most once even if this row is lost;
the row is written after, and a redelivery finds it (or replays the ledger's answer).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from gencredits.storage.sql.engine import read_transaction
from gencredits.storage.sql.schema import payment_events

__all__ = ["PaymentEventList", "PaymentEventStore", "PaymentEventView", "RefundCreate", "Status"]

Status = Literal["applied", "ignored", "pending", "rejected"]
STATUSES: tuple[str, ...] = ("applied", "ignored", "pending", "rejected")


#: A sum of money sent as decimal text ("4.50"): exact, above 0, at most 18 digits.
Money = Annotated[Decimal, Field(strict=False, gt=0, max_digits=18, examples=["4.50"])]


class RefundCreate(BaseModel):
    """The optional body of a purchase refund: without it (or without ``amount``), the whole."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    amount: Money | None = Field(
        None,
        description="A partial refund: the payment refunded so far (cumulative, as payment "
        "providers report it), as decimal text. Null: the whole purchase.",
    )
    of: Money | None = Field(
        None, description="What was paid, in the unit of amount; null: the purchase's price."
    )


class PaymentEventView(BaseModel):
    """What became of one provider event."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    provider: str
    event_type: str = Field(description="The provider's event type, e.g. charge.refunded.")
    status: Status
    outcome: str = Field(description="What happened, e.g. purchased, refunded, unknown_wallet.")
    wallet_id: str | None
    provider_ref: str | None = Field(
        description="The provider's object the event is about (payment intent, subscription)."
    )
    result_id: str | None = Field(description="The purchase or subscription id it moved.")
    detail: str
    event_created_at: datetime
    received_at: datetime
    updated_at: datetime
    duplicate: bool = Field(False, description="True when this delivery was seen before.")


class PaymentEventList(BaseModel):
    items: list[PaymentEventView]


def _view(row: Any) -> PaymentEventView:
    # The table's instants are UTCDateTime: aware UTC on every backend.
    return PaymentEventView(
        event_id=row.event_id,
        provider=row.provider,
        event_type=row.type,
        status=row.status,
        outcome=row.outcome,
        wallet_id=row.wallet_id,
        provider_ref=row.provider_ref,
        result_id=row.result_id,
        detail=row.detail,
        event_created_at=row.event_created_at,
        received_at=row.received_at,
        updated_at=row.updated_at,
    )


class PaymentEventStore:
    """The ``payment_events`` table.  Each call is its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, event_id: str) -> PaymentEventView | None:
        with read_transaction(self.engine) as conn:
            row = conn.execute(
                payment_events.select().where(payment_events.c.event_id == event_id)
            ).first()
        return None if row is None else _view(row)

    def payload(self, event_id: str) -> dict[str, Any]:
        with read_transaction(self.engine) as conn:
            value = conn.execute(
                sa.select(payment_events.c.payload).where(payment_events.c.event_id == event_id)
            ).scalar_one()
        return dict(value)

    def record(self, values: dict[str, Any], payload: dict[str, Any]) -> PaymentEventView:
        """Insert the event's row, or update it (a pending event applied later, a race)."""
        now = datetime.now(UTC)
        row = {**values, "payload": payload, "updated_at": now}
        table = payment_events
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(**row, received_at=now))
        except IntegrityError:
            with self.engine.begin() as conn:
                conn.execute(
                    table.update().where(table.c.event_id == values["event_id"]).values(**row)
                )
        found = self.get(values["event_id"])
        assert found is not None
        return found

    def result_for(self, provider_ref: str) -> str | None:
        """Our id (purchase, subscription) made by the applied checkout of ``provider_ref``."""
        t = payment_events
        with read_transaction(self.engine) as conn:
            return conn.execute(
                sa.select(t.c.result_id)
                .where(t.c.provider_ref == provider_ref, t.c.status == "applied")
                .where(t.c.type == "checkout.session.completed")
                .limit(1)
            ).scalar()

    def pending_for(self, provider_ref: str) -> list[str]:
        """Event ids waiting for ``provider_ref``, in the provider's order."""
        t = payment_events
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                sa.select(t.c.event_id)
                .where(t.c.provider_ref == provider_ref, t.c.status == "pending")
                .order_by(t.c.event_created_at, t.c.event_id)
            )
            return [r.event_id for r in rows]

    def list(
        self, *, status: str | None = None, wallet_id: str | None = None, limit: int = 100
    ) -> list[PaymentEventView]:
        """The latest events first."""
        t = payment_events
        query = t.select().order_by(t.c.received_at.desc(), t.c.event_id.desc()).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status)
        if wallet_id is not None:
            query = query.where(t.c.wallet_id == wallet_id)
        with read_transaction(self.engine) as conn:
            return [_view(r) for r in conn.execute(query)]
