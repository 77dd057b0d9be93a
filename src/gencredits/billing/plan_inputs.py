"""One input type per subscription and purchase operation: frozen, checked when made, and
fingerprinted for idempotency like every other credit-moving call (see :mod:`.inputs`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar

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


#: The most digits a refunded amount may have (before and after the point together).
AMOUNT_DIGITS_MAX = 18


def check_amount(field_name: str, value: object) -> Decimal | None:
    """A sum of money (a refund): ``None``, or an exact positive decimal (a ``Decimal`` or a
    whole number, never a float) of at most :data:`AMOUNT_DIGITS_MAX` digits."""
    if value is None:
        return None
    amount: Decimal | None = None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    if amount is None or not amount.is_finite() or amount <= 0:
        shown = str(value) if isinstance(value, Decimal) else value
        raise InvalidRequest.for_field(
            field_name, shown, "a positive decimal amount (a Decimal or a whole number)"
        )
    if len(amount.as_tuple().digits) > AMOUNT_DIGITS_MAX:
        raise InvalidRequest.for_field(
            field_name, str(amount), f"at most {AMOUNT_DIGITS_MAX} digits"
        )
    return amount


@dataclass(frozen=True, slots=True)
class TakeBackPurchase(Operation):
    """A refund or a chargeback of a purchase: its grants are taken back, all of them or
    (a partial refund) the share ``amount / of`` of the payment refunded so far."""

    operation: ClassVar[str] = "take_back_purchase"
    purchase_id: str
    kind: str
    #: a chargeback freezes the wallet unless told not to
    freeze: bool = True
    #: a partial refund: the payment refunded so far (cumulative, as providers report it)
    amount: Decimal | None = None
    #: ... out of this much paid (the same unit); ``None``: the purchase's price
    of: Decimal | None = None

    def __post_init__(self) -> None:
        check_id("purchase_id", self.purchase_id)
        if self.kind not in TAKE_BACK_KINDS:
            raise InvalidRequest.for_field("kind", self.kind, "one of refund, chargeback")
        if not isinstance(self.freeze, bool):
            raise InvalidRequest.for_field("freeze", self.freeze, "true or false")
        object.__setattr__(self, "amount", check_amount("amount", self.amount))
        object.__setattr__(self, "of", check_amount("of", self.of))
        if self.amount is None and self.of is not None:
            raise InvalidRequest.for_field("of", str(self.of), "given only with amount")
        if self.amount is not None and self.kind != "refund":
            raise InvalidRequest.for_field(
                "amount", str(self.amount), "a refund's only: a chargeback takes the whole"
            )
        if self.amount is not None and self.of is not None and self.amount > self.of:
            raise InvalidRequest.for_field(
                "amount", str(self.amount), f"at most of ({self.of}), what was paid"
            )

    @property
    def scope(self) -> str:
        return f"purchase:{self.purchase_id}"

    def request(self) -> dict[str, Any]:
        """A whole refund asks what it asked before partial refunds existed (the same
        fingerprint); a partial one adds its amounts, written without trailing zeros."""
        asked: dict[str, Any] = {"purchase_id": self.purchase_id, "kind": self.kind}
        asked["freeze"] = self.freeze
        for name in ("amount", "of"):
            value = getattr(self, name)
            if value is not None:
                asked[name] = format(value.normalize(), "f")
        return asked

    def share(self, price: Decimal) -> Fraction:
        """The share of the payment refunded so far (1: the whole)."""
        if self.amount is None:
            return Fraction(1)
        paid = self.of if self.of is not None else price
        if self.amount > paid:
            raise InvalidRequest.for_field(
                "amount", str(self.amount), f"at most the purchase's price ({price})"
            )
        return Fraction(self.amount) / Fraction(paid)


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
