"""Domain values of what makes grants: subscriptions, their cycles, and pack purchases.

Immutable, like :mod:`gencredits.ledger.model`; stored beside the ledger (every row keyed by
its wallet) and written in the same unit of work as the grants they make, so a cycle or a
purchase exists exactly when its grants do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

__all__ = ["CycleRecord", "Purchase", "PurchaseState", "Subscription", "SubscriptionState"]


class SubscriptionState(StrEnum):
    ACTIVE = "active"
    #: cancelled: its credits stay to the end of the cycle, then it ends (no renewal)
    CANCELLED = "cancelled"
    #: a payment failed: no new cycle is granted, nothing granted is taken away
    PAST_DUE = "past_due"
    ENDED = "ended"


class PurchaseState(StrEnum):
    PAID = "paid"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    wallet_id: str
    plan: str
    catalog: str
    catalog_version: str
    state: str  # a SubscriptionState
    anchor_at: datetime  # cycle n starts at anchor + n months
    next_cycle: int  # the number of the next cycle to grant
    next_at: datetime  # when it starts: the subscription is due then
    pending_plan: str | None  # a change that takes effect at the next cycle
    #: the allowance grants of the current cycle (what a rollover reads at its end)
    allowance_grants: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """One granted cycle: unique per (wallet, subscription, number) in the database, so no
    cycle is ever granted twice, whoever ticks."""

    wallet_id: str
    subscription_id: str
    number: int
    plan: str
    starts_at: datetime
    ends_at: datetime
    granted: int  # allowance + bonus
    rolled_over: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Purchase:
    id: str  # the platform's payment reference
    wallet_id: str
    pack: str
    catalog_version: str
    price: Decimal
    currency: str
    credits: int
    bonus_credits: int
    credit_grant_id: str
    bonus_grant_id: str | None
    state: str  # a PurchaseState
    taken_back: int  # credits taken back by a refund or chargeback
    spent: int  # credits already spent (or held) when it was taken back
    created_at: datetime
    updated_at: datetime
