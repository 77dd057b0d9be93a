"""The margin report: revenue in credits and money, provider cost and margin, per model, per
route and overall (the method: docs/reports.md, "Margin").

A credit's value is what was paid for the credits sold (plan cycles and packs, bonus credits
included, refunds taken back) up to the period's end, divided by those credits: a bonus credit
is a credit sold at no price, so it lowers the value of every credit.  Revenue is the credits
the wallets paid for jobs (captured) at that value; the provider cost is what the catalog
recorded in each job's quote when it was priced.  Usage on a model or route with no recorded
cost is listed apart (:class:`UncostedRow`), never given a guessed cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

from gencredits.ledger.rollups import MICROS
from gencredits.ledger.store import LedgerReader

from .build import sales, usage_totals
from .query import ReportQuery
from .views import MarginReport, MarginRow, UncostedRow

__all__ = ["MARGIN_BREAKDOWNS", "margin_report"]

MARGIN_BREAKDOWNS = ("model", "route")
_MONEY = Decimal("0.01")
_SHARE = Decimal("0.0001")
_VALUE = Decimal("0.000001")


def _money(micros: Decimal) -> Decimal:
    return (micros / MICROS).quantize(_MONEY, rounding=ROUND_HALF_EVEN)


def _row(
    group: Mapping[str, str],
    counts: Mapping[str, int],
    value: tuple[Decimal | None, str | None],
    cost_in: str,
) -> MarginRow:
    """One row; ``value``: (money in millionths per credit, ``None`` when nothing was sold;
    its currency); ``cost_in``: the currency of the cost ("": several)."""
    per_credit, currency = value
    revenue = None if per_credit is None else per_credit * counts["credits"]
    cost = Decimal(counts["cost_micros"])
    comparable = revenue is not None and cost_in == currency
    margin = revenue - cost if comparable and revenue is not None else None
    share = None
    if margin is not None and revenue:
        share = (margin / revenue).quantize(_SHARE, rounding=ROUND_HALF_EVEN)
    return MarginRow(
        model=group.get("model"),
        route=group.get("route"),
        succeeded=counts["succeeded"],
        credits_captured=counts["credits"],
        revenue=None if revenue is None else _money(revenue),
        cost=_money(cost),
        margin=None if margin is None else _money(margin),
        margin_share=share,
        currency=cost_in or None,
    )


def margin_report(
    reader: LedgerReader, query: ReportQuery, currency: str | None = None
) -> MarginReport:
    """Margin per group of ``query.by`` (model and/or route), and over all costed usage."""
    found = usage_totals(reader, query, ["model", "route", "currency"])
    currency, money, credits, bonus = sales(reader, query.until, currency)
    value = Decimal(money) / credits if credits else None
    groups: dict[tuple[str, ...], dict[str, int]] = {}
    cost_currency: dict[tuple[str, ...], set[str]] = {}
    uncosted: list[UncostedRow] = []
    total = {"succeeded": 0, "credits": 0, "cost_micros": 0}
    for row in found:
        model, route, cost_in = row.group
        done = row.counts["succeeded"] + row.counts["late_succeeded"]
        if not model or not (done or row.counts["captured"]):
            continue  # zero-cost usage has no model; nothing succeeded: nothing to price
        if not cost_in:
            paid = row.counts["captured"]
            uncosted.append(
                UncostedRow(model=model, route=route, succeeded=done, credits_captured=paid)
            )
            continue
        parts = {"model": model, "route": route}
        key = tuple(parts[name] for name in query.by)
        into = groups.setdefault(key, {"succeeded": 0, "credits": 0, "cost_micros": 0})
        for sums in (into, total):
            sums["succeeded"] += done
            sums["credits"] += row.counts["captured"]
            sums["cost_micros"] += row.counts["cost_micros"]
        cost_currency.setdefault(key, set()).add(cost_in)
        cost_currency.setdefault((), set()).add(cost_in)
    priced = (value, currency)
    rows = [
        _row(dict(zip(query.by, key, strict=True)), groups[key], priced, _one(cost_currency[key]))
        for key in sorted(groups)
    ]
    return MarginReport(
        since=query.since,
        until=query.until,
        by=list(query.by),
        currency=currency,
        money_sold=_money(Decimal(money)),
        credits_sold=credits,
        bonus_sold=bonus,
        credit_value=None if value is None else (value / MICROS).quantize(_VALUE, ROUND_HALF_EVEN),
        rows=rows,
        total=_row({}, total, priced, _one(cost_currency.get((), set()))),
        uncosted=uncosted,
    )


def _one(currencies: set[str]) -> str:
    """The cost currency of a group; several (costs in two currencies): none comparable."""
    return next(iter(currencies)) if len(currencies) == 1 else ""
