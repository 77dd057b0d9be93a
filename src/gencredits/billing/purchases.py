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
from fractions import Fraction
from math import floor

from dateutil.relativedelta import relativedelta

from gencredits.errors import Conflict, PurchaseNotFound
from gencredits.ledger.model import Event, GrantState, Wallet, evolve
from gencredits.ledger.postings import Key
from gencredits.ledger.records import Purchase, PurchaseState
from gencredits.ledger.store import LedgerReader, WriteUnit
from gencredits.plans import PlanCatalog

from . import grants, usage
from .runner import need_wallet
from .subscriptions import issue_credits, record_key

__all__ = ["EVENT_PURCHASE_CREDITED", "REFUNDS", "buy", "find_purchase", "take_back"]

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


#: The state document (per purchase, beside its wallet's ledger) of a purchase refunded in
#: parts: the share of the payment refunded so far and what each grant has answered for.
REFUNDS = "purchase_refund"


def take_back(
    uow: WriteUnit,
    wallet: Wallet,
    purchase: Purchase,
    *,
    kind: str,
    freeze: bool,
    now: datetime,
    share: Fraction = Fraction(1),
) -> tuple[Purchase, str]:
    """Refund (``kind="refund"``) or charge back a purchase: take back ``share`` of its two
    grants (cumulative: what earlier partial refunds took counts; a share already reached
    moves nothing), never more than is left; a chargeback (always the whole) freezes the
    wallet when ``freeze``.  Each grant answers for ``floor(share * its amount)`` credits
    (rounded down, in the customer's favour; the whole at share 1); what it no longer has
    is recorded as ``spent``."""
    if purchase.state != PurchaseState.PAID:
        return purchase, f"already_{purchase.state}"
    progress = dict(uow.get_state(wallet.id, REFUNDS, purchase.id) or {})
    done = Fraction(*progress.get("share", (0, 1)))
    if kind != "refund":
        share = Fraction(1)
    if share <= done:
        return purchase, "already_refunded_to_share"
    accounted: dict[str, int] = dict(progress.get("grants", {}))
    step = int(progress.get("steps", 0)) + 1
    taken = spent = 0
    for grant_id in (purchase.credit_grant_id, purchase.bonus_grant_id):
        if grant_id is not None:
            how = (share, step, kind, f"purchase:{purchase.id}")
            moved = _take_share(uow, wallet.id, grant_id, how, accounted, now)
            taken, spent = taken + moved[0], spent + moved[1]
    progress = {"share": [share.numerator, share.denominator], "grants": accounted}
    uow.put_state(wallet.id, REFUNDS, purchase.id, progress | {"steps": step})
    state = PurchaseState.PAID
    if share == 1:
        state = PurchaseState.REFUNDED if kind == "refund" else PurchaseState.CHARGED_BACK
    purchase = evolve(
        purchase,
        state=state,
        taken_back=purchase.taken_back + taken,
        spent=purchase.spent + spent,
        updated_at=now,
    )
    uow.update_purchase(purchase)
    credits = (-(purchase.credits + purchase.bonus_credits), -purchase.bonus_credits)
    usage.sold(uow, wallet.id, "pack", (-purchase.price, purchase.currency), credits, now)
    if kind == "chargeback" and freeze:
        wallet = need_wallet(uow.get_wallet(wallet.id), wallet.id)  # with its grants' totals
        uow.update_wallet(evolve(wallet, frozen=f"chargeback:{purchase.id}", updated_at=now))
    payload = {"kind": kind, "taken_back": taken, "spent": spent}
    payload |= {"share": f"{share.numerator}/{share.denominator}"}
    uow.emit(Event(wallet.id, EVENT_PURCHASE_TAKEN_BACK, purchase.id, now, payload))
    outcome = str(state) if share == 1 else "partially_refunded"
    return purchase, outcome


def _take_share(
    uow: WriteUnit,
    wallet_id: str,
    grant_id: str,
    how: tuple[Fraction, int, str, str],
    accounted: dict[str, int],
    now: datetime,
) -> tuple[int, int]:
    """Take one grant's part of the share (less what it answered for already): (taken,
    spent).  At share 1 the grant is closed, whatever is left of it taken."""
    share, step, kind, scope = how
    grant = uow.get_grant(grant_id)
    assert grant is not None, grant_id
    due = grant.amount if share == 1 else floor(share * grant.amount)
    due = max(due - accounted.get(grant_id, 0), 0)
    accounted[grant_id] = accounted.get(grant_id, 0) + due
    active = grant.state == GrantState.ACTIVE
    left = grant.remaining if active else 0
    take = left if share == 1 else min(due, left)
    if take > 0 or (share == 1 and active):
        wallet = need_wallet(uow.get_wallet(wallet_id), wallet_id)  # as last written
        if share == 1:
            key = Key(scope, f"{kind}/{grant_id}")
            grants.close(uow, wallet, grant, voided=True, at=now, key=key)
        else:
            key = Key(scope, f"{kind}/{grant_id}/{step}")
            grants.reduce(uow, wallet, grant, take, step=step, at=now, key=key)
        record_key(uow, wallet_id, key, kind, ("grant", grant_id), now)
    # Spent: what the grant no longer had of its due.  At share 1 it can be negative: held
    # credits counted spent by an earlier step that came back to the grant (a failed job)
    # and are taken now, so taken back and spent always add up to the grant's amount.
    return take, due - take
