"""Subscriptions, cycles and purchases in a group-commit batch (see :mod:`.staged`).

:class:`PlanBatch` is the batch's part (what its finished units wrote, flushed with one
multi-row statement per table) and :class:`PlanStaged` the unit's part (its own writes, kept
until it finishes).  Reads: this unit's rows, else the batch's, else the database's (kept by
the batch when read under the wallet's lock), as for jobs and grants.  A second cycle of the
same (wallet, subscription, number) is refused here when the batch knows the first, and by
the primary key when the batch is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from gencredits.ledger.model import Wallet
from gencredits.ledger.records import CycleRecord, Purchase, Subscription
from gencredits.ledger.renewals import Renewal, write_each
from gencredits.ledger.store import RetryableConflict
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import BulkStatement
from gencredits.storage.sql.plans import cycle_row, purchase_row, subscription_row

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from gencredits.ledger.store import WriteUnit
    from gencredits.storage.sql.staged import BatchState
    from gencredits.storage.sql.store import SqlUnit

__all__ = ["UPDATE_SUBS", "PlanBatch", "PlanStaged", "sub_change_row"]

_SUB_CHANGE = ("plan", "state", "next_cycle", "next_at", "pending_plan", "allowance_grants")
_INSERT_SUBS = BulkStatement(t.subscriptions.insert())
UPDATE_SUBS = BulkStatement.update(t.subscriptions, ("id", "s_id"), (*_SUB_CHANGE, "updated_at"))
_INSERT_CYCLES = BulkStatement(t.cycles.insert())
_INSERT_PURCHASES = BulkStatement(t.purchases.insert())
_PURCHASE_CHANGE = ("state", "taken_back", "spent", "updated_at")
_UPDATE_PURCHASES = BulkStatement.update(t.purchases, ("id", "p_id"), _PURCHASE_CHANGE)
CycleKey = tuple[str, str, int]


def _cycle_key(c: CycleRecord) -> CycleKey:
    return (c.wallet_id, c.subscription_id, c.number)


class PlanRows:
    """What a unit (or a batch) wrote of subscriptions, cycles and purchases."""

    def __init__(self) -> None:
        self.subs: dict[str, Subscription] = {}
        self.new_subs: dict[str, None] = {}
        self.cycles: dict[CycleKey, CycleRecord] = {}
        self.purchases: dict[str, Purchase] = {}
        self.new_purchases: dict[str, None] = {}


class PlanBatch:
    """Mixed into :class:`~gencredits.storage.sql.staged.BatchState`."""

    sql: SqlUnit
    wallets: dict[str, Wallet]

    def plan_init(self) -> None:
        self.plan = PlanRows()
        self.changed_subs: dict[str, None] = {}
        self.changed_purchases: dict[str, None] = {}

    def plan_absorb(self, mine: PlanRows) -> None:
        p = self.plan
        for sub_id, sub in mine.subs.items():
            p.subs[sub_id] = sub
            if sub_id in mine.new_subs:
                p.new_subs[sub_id] = None
            elif sub_id not in p.new_subs:
                self.changed_subs[sub_id] = None
        p.cycles.update(mine.cycles)
        for purchase_id, purchase in mine.purchases.items():
            p.purchases[purchase_id] = purchase
            if purchase_id in mine.new_purchases:
                p.new_purchases[purchase_id] = None
            elif purchase_id not in p.new_purchases:
                self.changed_purchases[purchase_id] = None

    def plan_write(self, c: Connection) -> None:
        p = self.plan
        _INSERT_SUBS.run(c, [subscription_row(p.subs[i]) for i in p.new_subs])
        changed = [p.subs[i] for i in sorted(self.changed_subs)]
        UPDATE_SUBS.run(c, [sub_change_row(s) for s in changed])
        _INSERT_CYCLES.run(c, [cycle_row(x) for x in p.cycles.values()])
        _INSERT_PURCHASES.run(c, [purchase_row(p.purchases[i]) for i in p.new_purchases])
        changed_p = [p.purchases[i] for i in sorted(self.changed_purchases)]
        _UPDATE_PURCHASES.run(c, [_purchase_change(x) for x in changed_p])

    def plan_remember_sub(self, sub: Subscription) -> None:
        if sub.wallet_id in self.wallets and sub.id not in self.plan.subs:
            self.plan.subs[sub.id] = sub

    def plan_remember_purchase(self, purchase: Purchase) -> None:
        if purchase.wallet_id in self.wallets and purchase.id not in self.plan.purchases:
            self.plan.purchases[purchase.id] = purchase


def sub_change_row(s: Subscription) -> dict[str, Any]:
    row = {name: getattr(s, name) for name in (*_SUB_CHANGE, "updated_at")}
    row["allowance_grants"] = list(s.allowance_grants)
    row["s_id"] = s.id
    return row


def _purchase_change(p: Purchase) -> dict[str, Any]:
    return {"p_id": p.id, **{name: getattr(p, name) for name in _PURCHASE_CHANGE}}


class PlanStaged:
    """Mixed into :class:`~gencredits.storage.sql.staged.StagedUnit`."""

    b: BatchState
    mine: PlanRows

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        found = self.mine.subs.get(subscription_id) or self.b.plan.subs.get(subscription_id)
        if found is None:
            found = self.b.sql.get_subscription(subscription_id)
            if found is not None:
                self.b.plan_remember_sub(found)
        return found

    def get_subscriptions(self, subscription_ids: Sequence[str]) -> list[Subscription]:
        known = {**self.b.plan.subs, **self.mine.subs}
        missing = [i for i in subscription_ids if i not in known]
        for sub in self.b.sql.get_subscriptions(missing) if missing else []:
            self.b.plan_remember_sub(sub)
            known[sub.id] = sub
        return [known[i] for i in subscription_ids if i in known]

    def insert_subscription(self, subscription: Subscription) -> None:
        if subscription.id in self.mine.subs or subscription.id in self.b.plan.subs:
            raise RetryableConflict(f"subscription {subscription.id} exists")
        self.mine.subs[subscription.id] = subscription
        self.mine.new_subs[subscription.id] = None

    def update_subscription(self, subscription: Subscription) -> None:
        self.mine.subs[subscription.id] = subscription

    def insert_cycle(self, cycle: CycleRecord) -> None:
        key = _cycle_key(cycle)
        if key in self.mine.cycles or key in self.b.plan.cycles:
            raise RetryableConflict(f"cycle {key} already granted")
        self.mine.cycles[key] = cycle

    def write_renewals(self, renewals: Sequence[Renewal], wallets: Sequence[Wallet]) -> None:
        """Staged row by row, as any unit's writes (a tick runs its set alone, on SQL)."""
        write_each(cast("WriteUnit", self), renewals, wallets)

    def get_purchase(self, purchase_id: str) -> Purchase | None:
        found = self.mine.purchases.get(purchase_id) or self.b.plan.purchases.get(purchase_id)
        if found is None:
            found = self.b.sql.get_purchase(purchase_id)
            if found is not None:
                self.b.plan_remember_purchase(found)
        return found

    def insert_purchase(self, purchase: Purchase) -> None:
        if purchase.id in self.mine.purchases or purchase.id in self.b.plan.purchases:
            raise RetryableConflict(f"purchase {purchase.id} exists")
        self.mine.purchases[purchase.id] = purchase
        self.mine.new_purchases[purchase.id] = None

    def update_purchase(self, purchase: Purchase) -> None:
        self.mine.purchases[purchase.id] = purchase
