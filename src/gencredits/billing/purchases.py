"""Pack purchases inside a unit of work: two linked grants, refunds and chargebacks.

A purchase grants the pack's credits (kind ``purchase``) and its bonus (kind ``bonus``, with
its own, possibly shorter, expiry) as two grants issued under the purchase's id.  A refund or
a chargeback takes back what is left of both (never more: credits already spent stay spent,
and are recorded as ``spent``); held credits of them return to ``issued`` when their job
resolves, never to the wallet (the collector's rule for voided grants).  A chargeback also
freezes the wallet: it refuses new submissions (``wallet_frozen``) until an operator lifts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dateutil.relativedelta import relativedelta

from gencredits.errors import Conflict, PurchaseNotFound
from gencredits.ledger.model import Event, Wallet, evolve
from gencredits.ledger.postings import Key
from gencredits.ledger.records import Purchase, PurchaseState
from gencredits.ledger.store import LedgerReader, WriteUnit
from gencredits.plans import PlanCatalog

from . import grants, usage
from .runner import need_wallet
from .subscriptions import issue_credits, record_key

__all__ = ["EVENT_PURCHASE_CREDITED", "buy", "find_purchase", "take_back"]

EVENT_PURCHASE_CREDITED = "purchase.credited"
EVENT_PURCHASE_TAKEN_BACK = "purchase.taken_back"


def find_purchase(uow: LedgerReader | WriteUnit, purchase_id: str) -> Purchase:
    found = uow.get_purchase(purchase_id)
    if found is None:
        raise PurchaseNotFound(
            f"purchase_id: {purchase_id!r} does not exist",
            details={"field": "purchase_id", "value": purchase_id},
        )
    return found


def buy(
    uow: WriteUnit,
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    wallet: Wallet,
    pack_id: str,
    purchase_id: str,
    now: datetime,
) -> tuple[Purchase, str]:
    """Grant the pack's credits and bonus; a purchase id seen before answers that purchase
    (the same wallet and pack) or is a conflict."""
    existing = uow.get_purchase(purchase_id)
    if existing is not None:
        if (existing.wallet_id, existing.pack) != (wallet.id, pack_id):
            raise Conflict(
                f"purchase_id: {purchase_id!r} was already used for pack {existing.pack!r} "
                f"in wallet {existing.wallet_id!r}; nothing changed",
                details={"field": "purchase_id", "value": purchase_id},
            )
        return existing, "exists"
    pack = catalog.pack(pack_id)
    base = f"purchase/{purchase_id}"
    credit = issue_credits(
        uow,
        wallet.id,
        kinds,
        amount=pack.credits,
        kind="purchase",
        starts=now,
        expires=now + relativedelta(months=pack.validity_months),
        key=f"{base}/credits",
        now=now,
    )
    bonus = issue_credits(
        uow,
        wallet.id,
        kinds,
        amount=pack.bonus_credits,
        kind="bonus",
        starts=now,
        expires=now + relativedelta(months=pack.bonus_validity_months),
        key=f"{base}/bonus",
        now=now,
    )
    assert credit is not None
    purchase = Purchase(
        purchase_id,
        wallet.id,
        pack.id,
        catalog.version,
        pack.price,
        pack.currency,
        pack.credits,
        pack.bonus_credits,
        credit,
        bonus,
        PurchaseState.PAID,
        0,
        0,
        now,
        now,
    )
    uow.insert_purchase(purchase)
    credits = (pack.credits + pack.bonus_credits, pack.bonus_credits)
    usage.sold(uow, wallet.id, "pack", (pack.price, pack.currency), credits, now)
    payload = {"pack": pack.id, "credits": pack.credits, "bonus_credits": pack.bonus_credits}
    uow.emit(Event(wallet.id, EVENT_PURCHASE_CREDITED, purchase_id, now, payload))
    return purchase, "purchased"


def take_back(
    uow: WriteUnit, wallet: Wallet, purchase: Purchase, *, kind: str, freeze: bool, now: datetime
) -> tuple[Purchase, str]:
    """Refund (``kind="refund"``) or charge back a purchase: void what is left of its two
    grants; a chargeback freezes the wallet when ``freeze``."""
    if purchase.state != PurchaseState.PAID:
        return purchase, f"already_{purchase.state}"
    taken = spent = 0
    scope = f"purchase:{purchase.id}"
    for grant_id in (purchase.credit_grant_id, purchase.bonus_grant_id):
        if grant_id is None:
            continue
        grant = uow.get_grant(grant_id)
        assert grant is not None, grant_id
        left = grant.remaining if grant.state == "active" else 0
        taken += left
        spent += grant.amount - left
        if grant.state == "active":
            key = Key(scope, f"{kind}/{grant_id}")
            wallet = need_wallet(uow.get_wallet(wallet.id), wallet.id)  # as last written
            grants.close(uow, wallet, grant, voided=True, at=now, key=key)
            record_key(uow, key, kind, ("grant", grant_id), now)
    state = PurchaseState.REFUNDED if kind == "refund" else PurchaseState.CHARGED_BACK
    purchase = evolve(purchase, state=state, taken_back=taken, spent=spent, updated_at=now)
    uow.update_purchase(purchase)
    credits = (-(purchase.credits + purchase.bonus_credits), -purchase.bonus_credits)
    usage.sold(uow, wallet.id, "pack", (-purchase.price, purchase.currency), credits, now)
    if kind == "chargeback" and freeze:
        wallet = need_wallet(uow.get_wallet(wallet.id), wallet.id)  # with its grants' totals
        uow.update_wallet(evolve(wallet, frozen=f"chargeback:{purchase.id}", updated_at=now))
    payload = {"kind": kind, "taken_back": taken, "spent": spent}
    uow.emit(Event(wallet.id, EVENT_PURCHASE_TAKEN_BACK, purchase.id, now, payload))
    return purchase, str(state)
