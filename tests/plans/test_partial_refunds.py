"""Partial refunds of a pack, on every store: each takes back its share of the pack's grant
and its bonus (cumulative, as payment providers report it, rounded down), never more than
is left; the same share twice, or an older one late, moves nothing; a full refund or a
chargeback after partial ones takes the rest.

The pack: 2,000 credits + 200 bonus for 18.00.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.errors import IdempotencyConflict, InvalidRequest
from gencredits.plans import parse_plans

PLANS = """
catalog: test-plans
version: "1"
currency: USD
plans:
  starter: {title: Starter, price: 10, monthly_credits: 1000}
packs:
  medium: {title: Medium, price: 18, credits: 2000, bonus_credits: 200, bonus_validity_months: 3}
"""


@pytest.fixture
def b(store: Any, clock: ManualClock, ledger_catalogs: Any) -> Any:
    billing = Billing(store, ledger_catalogs, clock, plans=parse_plans(PLANS, "test-plans"))
    billing.create_wallet("u")
    billing.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p")
    yield billing
    assert billing.audit() == []


def _left(b: Billing) -> dict[str, int]:
    return {g.kind: g.remaining for g in b.list_grants("u", active=True).items}


def _spend(b: Billing, credits: int) -> None:
    for n in range(credits // 40):
        job = b.submit("u", "img", generations=4, idempotency_key=f"s{n}")
        b.complete(job.id, idempotency_key=f"c{n}")


def test_partial_then_partial_then_full(b: Billing) -> None:
    quarter = b.refund_purchase("pay-1", amount=Decimal("4.50"), idempotency_key="r1")
    assert (quarter.outcome, quarter.state, quarter.taken_back) == (
        "partially_refunded",
        "paid",
        550,
    )
    assert _left(b) == {"purchase": 1500, "bonus": 150}
    half = b.refund_purchase("pay-1", amount=Decimal(9), idempotency_key="r2")
    assert (half.taken_back, half.spent, _left(b)) == (1100, 0, {"purchase": 1000, "bonus": 100})
    full = b.refund_purchase("pay-1", idempotency_key="r3")
    assert (full.outcome, full.state, full.taken_back, full.spent) == (
        "refunded",
        "refunded",
        2200,
        0,
    )
    assert b.get_wallet("u").available == 0 and _left(b) == {}
    voided = [t for t in b.history("u", limit=100).items if t.kind == "void"]
    assert len(voided) == 6  # two grants, three refunds


def test_the_same_share_twice_or_late_moves_nothing(b: Billing) -> None:
    b.refund_purchase("pay-1", amount=Decimal(900), of=Decimal(1800), idempotency_key="half")
    replay = b.refund_purchase(
        "pay-1", amount=Decimal(900), of=Decimal(1800), idempotency_key="half"
    )
    assert replay.replayed and replay.taken_back == 1100
    again = b.refund_purchase("pay-1", amount=Decimal("9.00"), idempotency_key="half-again")
    late = b.refund_purchase("pay-1", amount=Decimal(450), of=Decimal(1800), idempotency_key="q")
    assert (again.outcome, late.outcome) == ("already_refunded_to_share",) * 2
    assert (late.taken_back, b.get_wallet("u").available) == (1100, 1100)
    with pytest.raises(IdempotencyConflict):
        b.refund_purchase("pay-1", amount=Decimal(10), idempotency_key="half")


def test_a_half_spent_pack_gives_back_only_what_is_left(b: Billing) -> None:
    """1,200 spent (the bonus first, then 1,000 of the credits): half refunded takes the
    1,000 credits' half from what is left and records the bonus's 100 as spent."""
    _spend(b, 1200)
    half = b.refund_purchase("pay-1", amount=Decimal(9), idempotency_key="r1")
    assert (half.taken_back, half.spent, _left(b)) == (1000, 100, {})
    full = b.refund_purchase("pay-1", idempotency_key="r2")
    assert (full.state, full.taken_back, full.spent) == ("refunded", 1000, 1200)


def test_shares_round_down_cumulatively(b: Billing) -> None:
    third = b.refund_purchase("pay-1", amount=Decimal(6), idempotency_key="r1")
    assert third.taken_back == 666 + 66  # 2000/3 and 200/3, rounded down
    two_thirds = b.refund_purchase("pay-1", amount=Decimal(12), idempotency_key="r2")
    assert two_thirds.taken_back == 1333 + 133  # never more than the share overall
    assert _left(b) == {"purchase": 667, "bonus": 67}


def test_a_chargeback_after_a_partial_refund_takes_the_rest(b: Billing) -> None:
    b.refund_purchase("pay-1", amount=Decimal(9), idempotency_key="r1")
    back = b.chargeback_purchase("pay-1", idempotency_key="cb")
    assert (back.state, back.taken_back, back.spent) == ("charged_back", 2200, 0)
    assert b.get_wallet("u").frozen == "chargeback:pay-1"
    later = b.refund_purchase("pay-1", amount=Decimal(12), idempotency_key="r2")
    assert later.outcome == "already_charged_back"


BAD = [
    ({"amount": Decimal(19)}, "amount"),  # more than the price
    ({"amount": Decimal(5), "of": Decimal(4)}, "amount"),
    ({"amount": Decimal(0)}, "amount"),
    ({"amount": 4.5}, "amount"),  # never a float
    ({"amount": Decimal("NaN")}, "amount"),
    ({"of": Decimal(18)}, "of"),
]


def test_bad_amounts_are_refused_naming_the_field(b: Billing) -> None:
    for n, (asked, field) in enumerate(BAD):
        with pytest.raises(InvalidRequest) as bad:
            b.refund_purchase("pay-1", idempotency_key=f"bad{n}", **asked)
        assert bad.value.details["field"] == field, asked
    assert b.get_purchase("pay-1").taken_back == 0 and b.get_wallet("u").available == 2200


def test_held_credits_counted_spent_then_released_are_taken_by_the_full_refund(
    b: Billing,
) -> None:
    """All 2,200 held when half is refunded: the 1,000 + 100 due are recorded spent; the
    jobs fail, their credits return to the grants, and the full refund takes them, so taken
    back and spent add up to the pack."""
    jobs = [b.submit("u", "vid", {"duration": 10}, idempotency_key=f"h{n}") for n in range(11)]
    assert b.get_wallet("u").available == 0
    half = b.refund_purchase("pay-1", amount=Decimal(9), idempotency_key="r1")
    assert (half.taken_back, half.spent) == (0, 1100)
    for n, held in enumerate(jobs):
        b.fail(held.id, idempotency_key=f"f{n}")
    full = b.refund_purchase("pay-1", idempotency_key="r2")
    assert (full.taken_back, full.spent) == (2200, 0)
    assert b.get_wallet("u").available == 0
