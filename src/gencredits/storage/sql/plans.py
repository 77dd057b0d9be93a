"""Subscriptions, cycles and purchases on SQL: the plan part of the store port.

Mixed into :class:`~gencredits.storage.sql.store.SqlReader` (reads) and
:class:`~gencredits.storage.sql.store.SqlUnit` (writes), on the unit's connection and inside
its transaction.  A second cycle row for the same (wallet, subscription, number) violates
the primary key and fails the unit (retried by the service, which then finds the cycle
granted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.ledger.model import Wallet
from gencredits.ledger.records import CycleRecord, Purchase, Subscription
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import InList
from gencredits.storage.sql.rows import WALLET_COLUMNS, wallet_of

__all__ = ["PlanReads", "PlanWrites", "cycle_row", "purchase_row", "subscription_row"]

_SUB_FIELDS = tuple(f.name for f in fields(Subscription))
_CYCLE_FIELDS = tuple(f.name for f in fields(CycleRecord))
_PURCHASE_FIELDS = tuple(f.name for f in fields(Purchase))
_SUB_COLUMNS = tuple(t.subscriptions.c[name] for name in _SUB_FIELDS)
_CYCLE_COLUMNS = tuple(t.cycles.c[name] for name in _CYCLE_FIELDS)
_PURCHASE_COLUMNS = tuple(t.purchases.c[name] for name in _PURCHASE_FIELDS)


# Run on the driver's cursor, compiled once per list length (a tick reads 1,000 at a time).
_SUBS = InList(lambda m: sa.select(*_SUB_COLUMNS).where(t.subscriptions.c.id.in_(m)))
_WALLETS = InList(
    lambda m: sa.select(*WALLET_COLUMNS).where(t.wallets.c.id.in_(m)).order_by(t.wallets.c.id)
)
_LOCK_WALLETS = InList(
    lambda m: (
        sa.select(*WALLET_COLUMNS)
        .where(t.wallets.c.id.in_(m))
        .order_by(t.wallets.c.id)
        .with_for_update()
    )
)


def _subscription(r: Any) -> Subscription:
    values = list(r)
    at = _SUB_FIELDS.index("allowance_grants")
    values[at] = tuple(values[at])
    return Subscription(*values)


def subscription_row(s: Subscription) -> dict[str, Any]:
    row = {name: getattr(s, name) for name in _SUB_FIELDS}
    row["allowance_grants"] = list(s.allowance_grants)
    return row


def cycle_row(c: CycleRecord) -> dict[str, Any]:
    return {name: getattr(c, name) for name in _CYCLE_FIELDS}


def purchase_row(p: Purchase) -> dict[str, Any]:
    return {name: getattr(p, name) for name in _PURCHASE_FIELDS}


class PlanReads:
    c: Connection

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        q = sa.select(*_SUB_COLUMNS).where(t.subscriptions.c.id == subscription_id)
        row = self.c.execute(q).first()
        return None if row is None else _subscription(row)

    def get_subscriptions(self, subscription_ids: Sequence[str]) -> list[Subscription]:
        if not subscription_ids:
            return []
        return [_subscription(r) for r in _SUBS.send(self.c, list(subscription_ids)).rows()]

    def wallet_subscriptions(self, wallet_id: str) -> list[Subscription]:
        s = t.subscriptions
        q = sa.select(*_SUB_COLUMNS).where(s.c.wallet_id == wallet_id)
        return [_subscription(r) for r in self.c.execute(q.order_by(s.c.created_at, s.c.id))]

    def subscription_cycles(self, subscription_id: str) -> list[CycleRecord]:
        q = sa.select(*_CYCLE_COLUMNS).where(t.cycles.c.subscription_id == subscription_id)
        return [CycleRecord(*r) for r in self.c.execute(q.order_by(t.cycles.c.number))]

    def due_subscriptions(
        self, now: datetime, *, limit: int, plans: Sequence[str]
    ) -> list[tuple[str, str]]:
        s = t.subscriptions
        known = list(plans)
        pending = sa.or_(s.c.pending_plan.is_(None), s.c.pending_plan.in_(known))
        q = (
            sa.select(s.c.id, s.c.wallet_id)
            .where(s.c.state.in_(("active", "cancelled")), s.c.next_at <= now)
            .where(s.c.plan.in_(known), pending)
            .order_by(s.c.next_at)
            .limit(limit)
        )
        return [(r.id, r.wallet_id) for r in self.c.execute(q)]

    def get_purchase(self, purchase_id: str) -> Purchase | None:
        q = sa.select(*_PURCHASE_COLUMNS).where(t.purchases.c.id == purchase_id)
        row = self.c.execute(q).first()
        return None if row is None else Purchase(*row)


class PlanWrites(PlanReads):
    backend: str

    def lock_wallets(self, wallet_ids: Sequence[str]) -> list[Wallet]:
        """Lock (PostgreSQL) and read these wallets, in id order."""
        if not wallet_ids:
            return []
        query = _LOCK_WALLETS if self.backend == "postgresql" else _WALLETS
        return [wallet_of(r) for r in query.send(self.c, sorted(set(wallet_ids))).rows()]

    def insert_subscription(self, subscription: Subscription) -> None:
        self.c.execute(t.subscriptions.insert(), subscription_row(subscription))

    def update_subscription(self, subscription: Subscription) -> None:
        s = t.subscriptions
        row = subscription_row(subscription)
        where = sa.and_(s.c.wallet_id == subscription.wallet_id, s.c.id == subscription.id)
        self.c.execute(s.update().where(where).values(**row))

    def insert_cycle(self, cycle: CycleRecord) -> None:
        self.c.execute(t.cycles.insert(), cycle_row(cycle))

    def insert_purchase(self, purchase: Purchase) -> None:
        self.c.execute(t.purchases.insert(), purchase_row(purchase))

    def update_purchase(self, purchase: Purchase) -> None:
        p = t.purchases
        row = purchase_row(purchase)
        where = sa.and_(p.c.wallet_id == purchase.wallet_id, p.c.id == purchase.id)
        self.c.execute(p.update().where(where).values(**row))
