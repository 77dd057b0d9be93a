"""The wire types of plans, packs, subscriptions, purchases and ticks: one frozen type per
entity, for the library, the API and the client alike (see :mod:`.views`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from gencredits.ledger.records import (
    CycleRecord,
    Purchase,
    PurchaseState,
    Subscription,
    SubscriptionState,
)
from gencredits.plans import Pack, Plan, PlanCatalog

from .views import Instant, OutcomeText, Replayable, Wire, one_of

__all__ = [
    "CycleView",
    "PackView",
    "PlanCatalogView",
    "PlanView",
    "PurchaseView",
    "SubscriptionView",
    "TickReport",
]

SubscriptionStateText = Annotated[str, one_of(SubscriptionState)]
PurchaseStateText = Annotated[str, one_of(PurchaseState)]


class PlanView(Wire):
    id: str
    title: str
    price: Decimal = Field(description="Per period, in the catalog's currency (as text).")
    currency: str
    period: str = Field(description="month or year (a yearly plan grants monthly)")
    monthly_credits: int
    bonus_credits: int = Field(description="Granted each month with the allowance.")
    refresh: str = Field(description="reset or rollover")
    rollover_cap: int
    rollover_expiry_months: int
    price_per_credit: Decimal | None = Field(
        description="price / credits granted per period (allowance + bonus), 6 places."
    )

    @classmethod
    def of(cls, p: Plan) -> PlanView:
        return cls.of_record(p)


class PackView(Wire):
    id: str
    title: str
    price: Decimal
    currency: str
    pack_credits: int = Field(description="The credits the pack buys (its bonus apart).")
    bonus_credits: int
    validity_months: int
    bonus_validity_months: int
    price_per_credit: Decimal | None = Field(description="price / (credits + bonus), 6 places.")

    @classmethod
    def of(cls, k: Pack) -> PackView:
        return cls.of_record(k, pack_credits=k.credits)


class PlanCatalogView(Wire):
    catalog: str
    version: str
    content_hash: str = Field(description="sha256 of the plan catalog's content.")
    currency: str
    upgrade: str = Field(description="When an upgrade takes effect: immediate or next_cycle.")
    plans: list[PlanView]
    packs: list[PackView]

    @classmethod
    def of(cls, c: PlanCatalog) -> PlanCatalogView:
        return cls.of_record(
            c,
            catalog=c.name,
            content_hash=c.hash,
            plans=[PlanView.of(p) for p in c.plans.values()],
            packs=[PackView.of(k) for k in c.packs.values()],
        )


class CycleView(Wire):
    number: int
    plan: str
    starts_at: Instant
    ends_at: Instant
    granted: int
    rolled_over: int

    @classmethod
    def of(cls, c: CycleRecord) -> CycleView:
        return cls.of_record(c)


class SubscriptionView(Replayable):
    id: str
    wallet_id: str
    plan: str
    catalog: str
    catalog_version: str
    state: SubscriptionStateText
    anchor_at: Instant
    next_cycle: int
    next_at: Instant = Field(description="When the next cycle starts (renewal or end).")
    pending_plan: str | None = Field(description="The plan that takes effect at next_at.")
    created_at: Instant
    updated_at: Instant
    cycles: list[CycleView] = Field(default_factory=list)
    outcome: OutcomeText | str | None = None

    @classmethod
    def of(
        cls,
        s: Subscription,
        cycles: list[CycleRecord] | None = None,
        *,
        outcome: str | None = None,
        replayed: bool = False,
    ) -> SubscriptionView:
        cycle_views = [CycleView.of(c) for c in cycles or []]
        return cls.of_record(s, cycles=cycle_views, outcome=outcome, replayed=replayed)


class PurchaseView(Replayable):
    id: str
    wallet_id: str
    pack: str
    catalog_version: str
    price: Decimal
    currency: str
    pack_credits: int = Field(description="The credits bought (the bonus apart).")
    bonus_credits: int
    credit_grant_id: str
    bonus_grant_id: str | None
    state: PurchaseStateText
    taken_back: int = Field(description="Credits a refund or chargeback took back.")
    spent: int = Field(description="Credits already spent, held or expired when taken back.")
    created_at: Instant
    updated_at: Instant
    outcome: str | None = None

    @classmethod
    def of(cls, p: Purchase, *, outcome: str | None = None, replayed: bool = False) -> PurchaseView:
        return cls.of_record(p, pack_credits=p.credits, outcome=outcome, replayed=replayed)


class TickReport(Wire):
    subscriptions: int = Field(description="Subscriptions renewed or ended by this tick.")
    cycles_granted: int
    ended: int
