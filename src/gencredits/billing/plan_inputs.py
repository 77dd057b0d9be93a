"""One input type per subscription and purchase operation: frozen, checked when made, and
fingerprinted for idempotency like every other credit-moving call (see :mod:`.inputs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gencredits.errors import InvalidRequest

from .inputs import Operation, WalletOperation, check_id, check_job_id

__all__ = [
    "ChangePlan",
    "FreezeWallet",
    "PurchasePack",
    "SubscribeWallet",
    "SubscriptionAction",
    "TakeBackPurchase",
]

SUBSCRIPTION_ACTIONS = ("cancel", "resume", "past_due")
TAKE_BACK_KINDS = ("refund", "chargeback")


class SubscriptionOperation(Operation):
    """An operation on one subscription: recorded in the subscription's scope."""

    __slots__ = ()
    subscription_id: str

    @property
    def scope(self) -> str:
        return f"subscription:{self.subscription_id}"


@dataclass(frozen=True, slots=True)
class SubscribeWallet(WalletOperation):
    operation: ClassVar[str] = "subscribe"
    wallet_id: str
    plan: str

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        check_id("plan", self.plan)


@dataclass(frozen=True, slots=True)
class ChangePlan(SubscriptionOperation):
    operation: ClassVar[str] = "change_plan"
    subscription_id: str
    plan: str

    def __post_init__(self) -> None:
        check_job_id("subscription_id", self.subscription_id)
        check_id("plan", self.plan)


@dataclass(frozen=True, slots=True)
class SubscriptionAction(SubscriptionOperation):
    """Cancel (no renewal; credits stay to the cycle end), resume, or mark past due."""

    operation: ClassVar[str] = "subscription_action"
    subscription_id: str
    action: str

    def __post_init__(self) -> None:
        check_job_id("subscription_id", self.subscription_id)
        if self.action not in SUBSCRIPTION_ACTIONS:
            raise InvalidRequest.for_field(
                "action", self.action, f"one of {', '.join(SUBSCRIPTION_ACTIONS)}"
            )


@dataclass(frozen=True, slots=True)
class PurchasePack(WalletOperation):
    operation: ClassVar[str] = "purchase"
    wallet_id: str
    pack: str
    #: the platform's payment reference (unique): a second purchase with it is the first
    purchase_id: str

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        check_id("pack", self.pack)
        check_id("purchase_id", self.purchase_id)


@dataclass(frozen=True, slots=True)
class TakeBackPurchase(Operation):
    """A refund or a chargeback of a purchase: what is left of its grants is taken back."""

    operation: ClassVar[str] = "take_back_purchase"
    purchase_id: str
    kind: str
    #: a chargeback freezes the wallet unless told not to
    freeze: bool = True

    def __post_init__(self) -> None:
        check_id("purchase_id", self.purchase_id)
        if self.kind not in TAKE_BACK_KINDS:
            raise InvalidRequest.for_field("kind", self.kind, "one of refund, chargeback")
        if not isinstance(self.freeze, bool):
            raise InvalidRequest.for_field("freeze", self.freeze, "true or false")

    @property
    def scope(self) -> str:
        return f"purchase:{self.purchase_id}"


@dataclass(frozen=True, slots=True)
class FreezeWallet(WalletOperation):
    """An operator freezes a wallet (``reason``) or lifts its freeze (``reason=None``)."""

    operation: ClassVar[str] = "freeze_wallet"
    wallet_id: str
    reason: str | None

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        if self.reason is not None:
            check_id("reason", self.reason)
