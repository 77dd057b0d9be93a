"""Cycle arithmetic (pure) and the plan catalog's checks."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gencredits.errors import InvalidCatalog
from gencredits.plans import (
    bundled_plans,
    cycle_at,
    cycle_start,
    due_cycles,
    parse_plans,
    rolled_over,
)

anchors = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


def test_31_january_renews_at_the_end_of_february_then_on_31_march() -> None:
    anchor = datetime(2027, 1, 31, 9, tzinfo=UTC)
    assert [cycle_start(anchor, n).date().isoformat() for n in range(4)] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
    ]
    leap = datetime(2028, 1, 31, tzinfo=UTC)
    assert cycle_start(leap, 1).date().isoformat() == "2028-02-29"


@given(anchors, st.integers(min_value=0, max_value=240))
def test_cycle_starts_are_from_the_anchor_never_chained(anchor: datetime, n: int) -> None:
    start = cycle_start(anchor, n)
    months = anchor.year * 12 + anchor.month - 1 + n
    year, month = divmod(months, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    assert (start.year, start.month) == (year, month + 1)
    assert start.day == min(anchor.day, last_day)
    assert start.time() == anchor.time()
    assert cycle_start(anchor, n + 1) > start


@given(anchors, st.integers(min_value=0, max_value=10**9))
def test_cycle_at_finds_the_cycle_an_instant_falls_in(anchor: datetime, seconds: int) -> None:
    at = anchor + timedelta(seconds=seconds)
    n = cycle_at(anchor, at)
    assert cycle_start(anchor, n) <= at < cycle_start(anchor, n + 1)


@given(anchors, st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=10**8))
def test_due_cycles_are_consecutive_and_started(anchor: datetime, first: int, seconds: int) -> None:
    at = anchor + timedelta(seconds=seconds)
    due = due_cycles(anchor, first, at)
    assert [c.number for c in due] == list(range(first, first + len(due)))
    assert all(c.starts_at <= at for c in due)
    assert cycle_start(anchor, first + len(due)) > at
    assert all(a.ends_at == b.starts_at for a, b in itertools.pairwise(due))


@given(st.integers(min_value=-10, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_rollover_never_exceeds_the_cap_or_what_was_left(left: int, cap: int) -> None:
    rolled = rolled_over(left, cap)
    assert 0 <= rolled <= cap and rolled <= max(left, 0)


def test_bundled_example_bigger_plans_and_packs_are_cheaper_per_credit() -> None:
    c = bundled_plans()
    assert c.plans["starter"].monthly_credits == 1250
    monthly = [c.plans[p].price_per_credit for p in ("starter", "pro", "business")]
    assert monthly == sorted(monthly, reverse=True) and monthly[0] == Decimal("0.008")
    packs = [c.packs[p].price_per_credit for p in ("small", "medium", "large")]
    assert packs == sorted(packs, reverse=True)
    assert (
        c.hash.startswith("sha256:")
        and parse_plans(
            (c.name and "catalog: x\n")
            + "version: '1'\ncurrency: USD\nplans: {a: {title: A, price: 1, monthly_credits: 1}}\n"
        ).hash
        != c.hash
    )


def test_every_problem_at_once_with_its_path() -> None:
    text = """
catalog: bad
version: "1"
currency: usd
plans:
  a: {title: A, price: 1.5, monthly_credits: 0}
  b: {title: B, price: 1, monthly_credits: 10, refresh: {policy: reset, cap: 5}}
  c: {title: C, price: 1, monthly_credits: 10, refresh: {policy: rollover}}
packs:
  p: {title: P, price: 2, credits: 10, bonus_credits: 1, validity_months: 2,
      bonus_validity_months: 3}
"""
    with pytest.raises(InvalidCatalog) as shape:
        parse_plans(text)
    assert [p.split(":")[0] for p in shape.value.problems] == ["currency"]
    with pytest.raises(InvalidCatalog) as meaning:
        parse_plans(text.replace("usd", "USD"))
    assert [p.split(":")[0] for p in meaning.value.problems] == [
        "plans.a.monthly_credits",
        "plans.b.refresh.cap",
        "plans.c.refresh.cap",
        "packs.p.bonus_validity_months",
    ]
