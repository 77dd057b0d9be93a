"""The reports' figures on small, hand-checked workloads (in memory): usage groups and
periods, the value of a credit (a bonus lowers it), margin, uncosted models, breakage."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.errors import InvalidRequest
from gencredits.ledger import MemoryStore
from gencredits.reports import (
    ReportQuery,
    breakage_report,
    margin_report,
    usage_report,
)
from gencredits.reports.build import spans

KLING = {"duration": 5, "resolution": "720p"}  # 35 credits on the direct route, cost 5 x 0.056


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def billing(clock: ManualClock) -> Billing:
    b = Billing(MemoryStore(), clock=clock)
    b.create_wallet("w1")
    return b


def _kling(billing: Billing, n: int, *, route: str = "direct", member: str | None = None) -> str:
    job = billing.submit(
        "w1",
        "kling",
        {**KLING, "route": route},
        catalog="shared-credits",
        submitted_by=member,
        idempotency_key=f"k{n}",
    )
    return job.id


def test_a_bonus_credit_lowers_the_value_of_a_credit(billing: Billing) -> None:
    billing.purchase("w1", "small", purchase_id="p1", idempotency_key="p1")  # 5.00 for 500
    with billing.store.reader() as reader:
        plain = margin_report(reader, ReportQuery.of()).credit_value
    assert plain == Decimal("0.010000")
    # 18.00 for 2,000 credits + 200 bonus: 23.00 for 2,700 credits in all
    billing.purchase("w1", "medium", purchase_id="p2", idempotency_key="p2")
    with billing.store.reader() as reader:
        report = margin_report(reader, ReportQuery.of())
    assert (report.money_sold, report.credits_sold, report.bonus_sold) == (Decimal(23), 2700, 200)
    assert report.credit_value == (Decimal(23) / 2700).quantize(Decimal("0.000001"))
    assert report.credit_value is not None and report.credit_value < Decimal(23) / 2500


def test_margin_per_model_and_route_and_overall(billing: Billing) -> None:
    billing.purchase("w1", "small", purchase_id="p1", idempotency_key="p1")  # 0.01 a credit
    billing.complete(_kling(billing, 1), idempotency_key="c1")  # 35 credits, cost 0.28
    billing.complete(_kling(billing, 2, route="third-party"), idempotency_key="c2")  # 50, 0.42
    billing.fail(_kling(billing, 3), idempotency_key="f3")  # no revenue, no cost
    with billing.store.reader() as reader:
        report = margin_report(reader, ReportQuery.of(by="model,route"))
    rows = {(r.model, r.route): r for r in report.rows}
    direct, third = rows["kling", "direct"], rows["kling", "third-party"]
    assert (direct.credits_captured, direct.revenue, direct.cost, direct.margin) == (
        35,
        Decimal("0.35"),
        Decimal("0.28"),
        Decimal("0.07"),
    )
    assert (third.credits_captured, third.revenue, third.cost, third.margin) == (
        50,
        Decimal("0.50"),
        Decimal("0.42"),
        Decimal("0.08"),
    )
    assert third.margin_share == Decimal("0.1600")
    assert (report.total.credits_captured, report.total.margin, report.total.succeeded) == (
        85,
        Decimal("0.15"),
        2,
    )
    assert report.uncosted == []


def test_a_model_without_a_cost_is_listed_not_guessed(billing: Billing) -> None:
    billing.purchase("w1", "large", purchase_id="p1", idempotency_key="p1")
    job = billing.submit(
        "w1",
        "happy-horse",
        {"duration": 3, "resolution": "720p"},
        catalog="video-studio",
        idempotency_key="h1",
    )
    done = billing.complete(job.id, idempotency_key="h1c")
    billing.complete(_kling(billing, 1), idempotency_key="c1")
    with billing.store.reader() as reader:
        report = margin_report(reader, ReportQuery.of(by="model"))
    assert [r.model for r in report.rows] == ["kling"]
    assert [(u.model, u.succeeded, u.credits_captured) for u in report.uncosted] == [
        ("happy-horse", 1, done.credits_used)
    ]
    assert done.credits_used == job.credits_used > 0
    assert report.total.credits_captured == 35


def test_usage_by_member_and_period_with_the_failure_rate(
    billing: Billing, clock: ManualClock
) -> None:
    billing.grant("w1", 1000, kind="purchase", idempotency_key="g")
    billing.complete(_kling(billing, 1, member="ann"), idempotency_key="c1")
    billing.fail(_kling(billing, 2, member="ann"), idempotency_key="f2")
    clock.advance(delta=timedelta(days=40))
    billing.complete(_kling(billing, 3, member="bob"), idempotency_key="c3")
    billing.cancel(_kling(billing, 4, member="bob"), idempotency_key="x4")
    with billing.store.reader() as reader:
        by_month = usage_report(reader, ReportQuery.of(by="month,member"))
        january = usage_report(reader, ReportQuery.of(since="2026-01-01", until="2026-02-01"))
    rows = {(r.period, r.member): r for r in by_month.rows}
    assert set(rows) == {("2026-01", "ann"), ("2026-02", "bob")}
    ann, bob = rows["2026-01", "ann"], rows["2026-02", "bob"]
    assert (ann.jobs, ann.held, ann.captured, ann.refunded, ann.failure_rate) == (
        2,
        70,
        35,
        35,
        Decimal("0.5000"),
    )
    assert (bob.cancelled, bob.refunded, bob.failure_rate) == (1, 35, Decimal("0.0000"))
    assert january.total.jobs == 2
    assert by_month.columns()[:2] == ["period", "member"]


def test_breakage_by_kind_and_month(billing: Billing, clock: ManualClock) -> None:
    soon = clock.now() + timedelta(days=2)
    billing.grant("w1", 100, kind="promotional", expires_at=soon, idempotency_key="g1")
    billing.grant("w1", 40, kind="bonus", expires_at=soon, idempotency_key="g2")
    billing.complete(_kling(billing, 1), idempotency_key="c1")  # 35 of the promotional
    clock.advance(delta=timedelta(days=3))
    billing.sweep()
    with billing.store.reader() as reader:
        report = breakage_report(reader, ReportQuery.of())
    # promotional credits are spent before bonus ones: 35 of the 100 went on the job
    assert [(r.month, r.kind, r.credits_expired, r.grants_expired) for r in report.rows] == [
        ("2026-01", "bonus", 40, 1),
        ("2026-01", "promotional", 65, 1),
    ]
    assert (report.credits_expired, report.grants_expired) == (105, 2)


@pytest.mark.parametrize(
    ("asked", "field"),
    [
        ({"by": "model,planet"}, "by"),
        ({"by": "day,month"}, "by"),
        ({"by": "model,model"}, "by"),
        ({"since": "2026-13-01"}, "since"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until"),
        ({"days": 0}, "days"),
        ({"days": 3, "since": "2026-01-01"}, "days"),
    ],
)
def test_a_bad_query_is_refused_naming_the_field(asked: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        ReportQuery.of(**asked)
    assert err.value.details["field"] == field


def test_spans_read_whole_months_monthly_and_the_edges_daily() -> None:
    assert spans("2026-01-15", "2026-03-05") == [
        ("usage", "2026-01-15", "2026-02-01"),
        ("usage_month", "2026-02-01", "2026-03-01"),
        ("usage", "2026-03-01", "2026-03-05"),
    ]
    assert spans(None, None) == [("usage_month", None, None)]
    assert spans("2026-12-02", "2027-01-01") == [("usage", "2026-12-02", "2027-01-01")]
    assert spans("2026-01-10", "2026-01-20") == [("usage", "2026-01-10", "2026-01-20")]
    assert spans("2026-11-01", None) == [("usage_month", "2026-11-01", None)]


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("2026-01-15", "2026-03-05"),
        (None, "2026-02-10"),
        ("2026-01-01", "2026-03-01"),
        ("2026-02-01", None),
        ("2026-01-02", "2026-01-25"),
    ],
)
def test_a_period_sums_the_same_by_member_by_day_and_overall(
    billing: Billing, clock: ManualClock, since: str | None, until: str | None
) -> None:
    billing.grant("w1", 10_000, kind="purchase", idempotency_key="g")
    for n, days in enumerate((0, 19, 14, 10, 25)):  # Jan 1, Jan 20, Feb 3, Feb 13, Mar 10
        clock.advance(delta=timedelta(days=days))
        job = _kling(billing, n, member=("ann", "bob")[n % 2])
        billing.complete(job, idempotency_key=f"c{n}")
    with billing.store.reader() as reader:
        totals = [
            usage_report(reader, ReportQuery.of(since=since, until=until, by=by)).total
            for by in ("member", "day,member", "week,wallet", "month,member", None)
        ]
    assert totals[0].jobs > 0
    assert all(total == totals[0] for total in totals)
