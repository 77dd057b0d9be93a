"""Plans, subscriptions and packs over months of simulated time, in the domain's words.

Each scenario runs on every store: the in-memory reference, SQLite and PostgreSQL, each
alone and behind group commit (whose batches stage plan rows like ledger rows).  The
clock is the injectable ManualClock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.errors import InvalidTransition, WalletFrozen
from gencredits.plans import parse_plans

PLANS = """
catalog: test-plans
version: "1"
currency: USD
upgrade: immediate
plans:
  starter: {title: Starter, price: 10, monthly_credits: 1000}
  pro: {title: Pro, price: 30, monthly_credits: 4000, bonus_credits: 500}
  roll:
    title: Rollover
    price: 20
    monthly_credits: 1000
    refresh: {policy: rollover, cap: 600, expires_after_months: 2}
  yearly: {title: Yearly, price: 96, period: year, monthly_credits: 1000}
packs:
  medium: {title: Medium, price: 18, credits: 2000, bonus_credits: 200, bonus_validity_months: 3}
"""
START = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)


@pytest.fixture(
    params=["memory", "sqlite", "sqlite+group-commit", "postgresql", "postgresql+group-commit"]
)
def plan_billing(request: pytest.FixtureRequest, tmp_path: Any, ledger_catalogs: Any) -> Any:
    from gencredits.ledger import MemoryStore
    from gencredits.storage.sql.batch import GroupCommitStore
    from gencredits.storage.sql.engine import make_engine, upgrade
    from gencredits.storage.sql.store import SqlStore

    clock = ManualClock(START)
    store: Any
    if request.param == "memory":
        store = MemoryStore()
    else:
        url = f"sqlite:///{tmp_path}/plans.db"
        if request.param.startswith("postgresql"):
            url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        upgrade(engine)
        store = SqlStore(engine)
        if request.param.endswith("group-commit"):
            store = GroupCommitStore(store)
    billing = Billing(store, ledger_catalogs, clock, plans=parse_plans(PLANS, "test-plans"))
    billing.create_wallet("u")
    yield billing
    assert billing.audit() == []
    billing.close()


def at(b: Billing, when: datetime) -> None:
    clock = b.clock
    assert isinstance(clock, ManualClock)
    clock.set(when)
    b.sweep()


def kinds(b: Billing) -> dict[str, int]:
    """Spendable credits per grant kind."""
    out: dict[str, int] = {}
    for g in b.get_wallet("u").grants:
        if g.spendable:
            out[g.kind] = out.get(g.kind, 0) + g.remaining
    return out


def spend(b: Billing, credits: int, key: str) -> None:
    """Spend ``credits`` (a multiple of 10) through real jobs of the 10-credit model."""
    while credits > 0:
        n = min(4, credits // 10)
        job = b.submit("u", "img", generations=n, idempotency_key=f"{key}-{credits}")
        b.complete(job.id, idempotency_key=f"{key}-{credits}-done")
        credits -= 10 * n


def test_cycles_are_anchored_on_the_subscription_date(plan_billing: Billing) -> None:
    b = plan_billing
    sub = b.subscribe("u", "starter", idempotency_key="s")
    assert sub.next_at == datetime(2027, 2, 28, 12, tzinfo=UTC)
    at(b, datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert b.get_subscription(sub.id).next_at == datetime(2027, 3, 31, 12, tzinfo=UTC)
    at(b, datetime(2027, 3, 31, 12, tzinfo=UTC))
    cycles = b.get_subscription(sub.id).cycles
    assert [c.starts_at.date().isoformat() for c in cycles] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
    ]
    assert b.get_wallet("u").available == 1000  # reset: only the current allowance


def test_allowance_spent_first_and_pack_survives_the_reset(plan_billing: Billing) -> None:
    b = plan_billing
    b.subscribe("u", "starter", idempotency_key="s")
    b.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p")
    spend(b, 400, "a")
    assert kinds(b) == {"allowance": 600, "bonus": 200, "purchase": 2000}
    at(b, START + timedelta(days=29))  # 28 Feb: the cycle resets
    assert kinds(b) == {"allowance": 1000, "bonus": 200, "purchase": 2000}


def test_peer_bug_rolled_over_and_pack_credits_survive_the_cycle_reset(
    plan_billing: Billing,
) -> None:
    """A peer lost rolled-over top-up credits at a cycle reset, because the reset ran only
    for the subscription's own credits.  Here: a rollover plan's carried credits and a
    pack's credits both outlive the reset of the next cycle's allowance."""
    b = plan_billing
    sub = b.subscribe("u", "roll", idempotency_key="s")
    b.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p")
    spend(b, 800, "a")  # 200 of the allowance left
    at(b, datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert kinds(b) == {"allowance": 1200, "bonus": 200, "purchase": 2000}
    b.change_plan(sub.id, "starter", idempotency_key="down")  # reset from next cycle
    at(b, datetime(2027, 3, 31, 12, tzinfo=UTC))
    # The reset of the new cycle: the 200 rolled in February (expiring two cycles after it
    # rolled: 30 April) and the pack survive it; cycle 1's unused 1000 rolls by the ended
    # cycle's plan (600, the cap); Starter's fresh 1000 is granted.
    assert kinds(b) == {"allowance": 200 + 600 + 1000, "bonus": 200, "purchase": 2000}
    rolled_in_february = [
        g for g in b.list_grants("u", limit=500).items if g.kind == "allowance" and g.amount == 200
    ]
    assert [g.expires_at for g in rolled_in_february] == [datetime(2027, 4, 30, 12, tzinfo=UTC)]


def test_reset_vs_rollover_with_cap(plan_billing: Billing) -> None:
    b = plan_billing
    b.create_wallet("r")
    b.subscribe("r", "starter", idempotency_key="s")
    b.subscribe("u", "roll", idempotency_key="s")
    at(b, datetime(2027, 2, 28, 12, tzinfo=UTC))  # 1000 unused: 600 roll over (the cap)
    assert kinds(b) == {"allowance": 1600}
    assert b.get_wallet("r").available == 1000  # reset: the unused 1000 expired
    at(b, datetime(2027, 3, 31, 12, tzinfo=UTC))  # cycle 1's 1000 unused: 600 roll again
    # February's 600 lives two months (to 30 April), beside March's 600 and the allowance.
    assert kinds(b) == {"allowance": 600 + 600 + 1000}
    at(b, datetime(2027, 4, 30, 12, tzinfo=UTC))
    assert kinds(b) == {"allowance": 600 + 600 + 1000}  # February's expired, April's rolled
    assert b.get_wallet("r").available == 1000


def test_upgrade_mid_cycle_immediate(plan_billing: Billing) -> None:
    b = plan_billing
    sub = b.subscribe("u", "starter", idempotency_key="s")
    spend(b, 300, "a")
    at(b, START + timedelta(days=10))
    up = b.change_plan(sub.id, "pro", idempotency_key="up")
    assert up.outcome == "immediate" and up.plan == "pro"
    assert kinds(b) == {"allowance": 700 + 4000, "bonus": 500}
    at(b, datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert kinds(b) == {"allowance": 4000, "bonus": 500}
    assert b.change_plan(sub.id, "pro", idempotency_key="up").replayed


def test_upgrade_mid_cycle_next_cycle_and_downgrade(
    plan_billing: Billing, ledger_catalogs: Any
) -> None:
    b = plan_billing
    b.plan_catalog = parse_plans(PLANS.replace("upgrade: immediate", "upgrade: next_cycle"))
    sub = b.subscribe("u", "starter", idempotency_key="s")
    up = b.change_plan(sub.id, "pro", idempotency_key="up")
    assert (up.outcome, up.plan, up.pending_plan) == ("next_cycle", "starter", "pro")
    assert kinds(b) == {"allowance": 1000}
    at(b, datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert kinds(b) == {"allowance": 4000, "bonus": 500}
    down = b.change_plan(sub.id, "starter", idempotency_key="down")
    assert down.outcome == "next_cycle"
    assert kinds(b) == {"allowance": 4000, "bonus": 500}  # nothing taken back
    at(b, datetime(2027, 3, 31, 12, tzinfo=UTC))
    assert kinds(b) == {"allowance": 1000}


def test_cancel_then_resume_then_cancel_to_the_end(plan_billing: Billing) -> None:
    b = plan_billing
    sub = b.subscribe("u", "starter", idempotency_key="s")
    assert b.cancel_subscription(sub.id, idempotency_key="c1").state == "cancelled"
    assert kinds(b) == {"allowance": 1000}  # credits stay to the cycle end
    assert b.resume_subscription(sub.id, idempotency_key="r1").state == "active"
    at(b, datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert kinds(b) == {"allowance": 1000}
    b.cancel_subscription(sub.id, idempotency_key="c2")
    at(b, datetime(2027, 3, 31, 12, tzinfo=UTC))
    assert b.get_subscription(sub.id).state == "ended"
    assert kinds(b) == {}
    with pytest.raises(InvalidTransition):
        b.resume_subscription(sub.id, idempotency_key="r2")
    at(b, datetime(2027, 6, 30, 12, tzinfo=UTC))
    assert len(b.get_subscription(sub.id).cycles) == 2


def test_past_due_grants_nothing_new_and_takes_nothing_away(plan_billing: Billing) -> None:
    b = plan_billing
    sub = b.subscribe("u", "starter", idempotency_key="s")
    b.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p")
    at(b, START + timedelta(days=20))
    b.mark_past_due(sub.id, idempotency_key="pd")
    assert kinds(b) == {"allowance": 1000, "bonus": 200, "purchase": 2000}
    at(b, datetime(2027, 3, 31, 13, tzinfo=UTC))  # two renewals pass unpaid
    assert kinds(b) == {"bonus": 200, "purchase": 2000}
    resumed = b.resume_subscription(sub.id, idempotency_key="paid")
    assert kinds(b) == {"allowance": 1000, "bonus": 200, "purchase": 2000}
    assert [c.number for c in b.get_subscription(sub.id).cycles] == [0, 2]
    assert resumed.next_at == datetime(2027, 4, 30, 12, tzinfo=UTC)


def test_pack_with_bonus_two_linked_grants_bonus_expires_sooner(plan_billing: Billing) -> None:
    b = plan_billing
    bought = b.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p")
    grants = {g.id: g for g in b.list_grants("u", limit=500).items}
    credit, bonus = grants[bought.credit_grant_id], grants[bought.bonus_grant_id or ""]
    assert (credit.kind, credit.amount, bonus.kind, bonus.amount) == (
        "purchase",
        2000,
        "bonus",
        200,
    )
    assert bonus.expires_at == datetime(2027, 4, 30, 12, tzinfo=UTC)
    assert credit.expires_at == datetime(2028, 1, 31, 12, tzinfo=UTC)
    again = b.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p-again")
    assert again.replayed and b.get_wallet("u").available == 2200


def test_refund_of_a_half_spent_pack_takes_back_only_what_is_left(plan_billing: Billing) -> None:
    b = plan_billing
    b.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p")
    spend(b, 1200, "a")  # bonus 200 first, then 1000 of the credits
    refunded = b.refund_purchase("pay-1", idempotency_key="r")
    assert (refunded.state, refunded.taken_back, refunded.spent) == ("refunded", 1000, 1200)
    assert b.get_wallet("u").available == 0
    again = b.refund_purchase("pay-1", idempotency_key="r2")
    assert again.outcome == "already_refunded" and b.get_wallet("u").available == 0


def test_chargeback_freezes_the_wallet_until_unfrozen(plan_billing: Billing) -> None:
    b = plan_billing
    b.purchase("u", "medium", purchase_id="pay-1", idempotency_key="p")
    b.grant("u", 100, kind="promotional", idempotency_key="promo")
    back = b.chargeback_purchase("pay-1", idempotency_key="cb")
    assert (back.state, back.taken_back) == ("charged_back", 2200)
    assert b.get_wallet("u").frozen == "chargeback:pay-1"
    with pytest.raises(WalletFrozen) as refused:
        b.submit("u", "img", idempotency_key="j1")
    assert refused.value.code == "wallet_frozen" and refused.value.http_status == 423
    b.set_frozen("u", None, idempotency_key="lift")
    assert b.submit("u", "img", idempotency_key="j1").credits_used == 10


def test_catching_up_three_missed_cycles_with_their_own_expiries(plan_billing: Billing) -> None:
    b = plan_billing
    sub = b.subscribe("u", "roll", idempotency_key="s")
    b.clock.set(datetime(2027, 4, 30, 13, tzinfo=UTC))  # type: ignore[attr-defined]
    report = b.tick()
    assert (report.subscriptions, report.cycles_granted) == (1, 3)
    assert b.tick().cycles_granted == 0
    cycles = b.get_subscription(sub.id).cycles
    assert [c.number for c in cycles] == [0, 1, 2, 3]
    assert [c.rolled_over for c in cycles] == [0, 600, 600, 600]
    allowances = sorted(
        (g.effective_at.date().isoformat(), g.expires_at.date().isoformat() if g.expires_at else "")
        for g in b.list_grants("u", limit=500).items
        if g.kind == "allowance" and g.amount == 1000
    )
    assert allowances == [
        ("2027-01-31", "2027-02-28"),
        ("2027-02-28", "2027-03-31"),
        ("2027-03-31", "2027-04-30"),
        ("2027-04-30", "2027-05-31"),
    ]
    rolled = sorted(
        g.expires_at.date().isoformat()
        for g in b.list_grants("u", limit=500).items
        if g.kind == "allowance" and g.amount == 600 and g.expires_at
    )
    assert rolled == ["2027-04-30", "2027-05-31", "2027-06-30"]
    assert kinds(b) == {"allowance": 600 + 600 + 1000}


def test_a_plan_gone_from_the_catalog_is_skipped_not_a_stuck_tick(plan_billing: Billing) -> None:
    b = plan_billing
    b.create_wallet("v")
    b.subscribe("u", "roll", idempotency_key="s")
    b.subscribe("v", "starter", idempotency_key="s")
    b.plan_catalog = parse_plans(PLANS.replace("  roll:", "  roll-v2:"))
    b.clock.set(datetime(2027, 2, 28, 12, tzinfo=UTC))  # type: ignore[attr-defined]
    report = b.tick()
    assert (report.subscriptions, report.cycles_granted) == (1, 1)
    assert b.tick().subscriptions == 0  # it waits for an operator, not failing every tick
    b.plan_catalog = parse_plans(PLANS)
    assert b.tick().cycles_granted == 1


def test_a_yearly_plan_is_paid_yearly_and_grants_monthly(plan_billing: Billing) -> None:
    b = plan_billing
    yearly = b.plan_catalog.plan("yearly")
    assert yearly.price_per_credit == Decimal("0.008")  # 96 / (12 x 1,000)
    sub = b.subscribe("u", "yearly", idempotency_key="s")
    at(b, datetime(2027, 4, 30, 12, tzinfo=UTC))
    cycles = b.get_subscription(sub.id).cycles
    assert [(c.number, c.granted) for c in cycles] == [(0, 1000), (1, 1000), (2, 1000), (3, 1000)]
    assert kinds(b) == {"allowance": 1000}  # reset: one month's allowance at a time
