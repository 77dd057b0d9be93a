"""The reports, summed from the rollups (never from the jobs or the entries): each reads a
few ``GROUP BY`` sums over a range of days and folds them here.  The method, and what each
figure means: docs/reports.md."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from gencredits.errors import InvalidRequest
from gencredits.ledger.rollups import COUNTERS, FLOW_EXPIRED, FLOW_SOLD, RollupRow, month_of
from gencredits.ledger.store import LedgerReader

from .query import DIMENSIONS, PERIODS, ReportQuery, bucket
from .views import (
    BreakageReport,
    BreakageRow,
    UsageReport,
    UsageRow,
)

__all__ = ["breakage_report", "failure_rate", "sales", "spans", "usage_report", "usage_totals"]

_USAGE = COUNTERS["usage"]
_SHOWN = [name for name in _USAGE if name not in ("cost_micros", "uncosted")]
_RATE = Decimal("0.0001")


def failure_rate(counts: Mapping[str, int]) -> Decimal | None:
    """(failed + timed out) / (succeeded + failed + timed out); cancelled jobs are not
    failures of the provider, late successes were counted as timeouts already."""
    failures = counts["failed"] + counts["timed_out"]
    resolved = counts["succeeded"] + failures
    if not resolved:
        return None
    return (Decimal(failures) / resolved).quantize(_RATE, rounding=ROUND_HALF_EVEN)


def _next_month(day: str) -> str:
    year, month = int(day[:4]), int(day[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"


def spans(since: str | None, until: str | None) -> list[tuple[str, str | None, str | None]]:
    """(family, since, until) pieces of a period over the wide rollups: its whole months from
    ``usage_month``, the partial months at its edges from the daily ``usage``."""
    first = since if since is None or since.endswith("-01") else _next_month(since)
    last = None if until is None else month_of(until)
    if first is not None and last is not None and first >= last:
        return [("usage", since, until)]
    found: list[tuple[str, str | None, str | None]] = []
    if since is not None and first is not None and since < first:
        found.append(("usage", since, first))
    found.append(("usage_month", first, last))
    if until is not None and last is not None and last < until:
        found.append(("usage", last, until))
    return found


def usage_totals(reader: LedgerReader, query: ReportQuery, group_by: list[str]) -> list[RollupRow]:
    """Usage sums per ``group_by`` over the query's period and filters, from the smallest
    rollups that can answer: without wallet and member unless the query names them; by
    month, but for the edges, unless it groups by day or week."""
    wide = {"wallet", "member"} & set(query.by) or {"wallet_id", "member"} & set(query.where)
    if not wide:
        return reader.rollup_totals(
            "usage_total", group_by=group_by, days=query.days, where=query.where
        )
    pieces = spans(*query.days) if query.period in (None, "month") else [("usage", *query.days)]
    found: list[RollupRow] = []
    for family, since, until in pieces:
        found += reader.rollup_totals(
            family, group_by=group_by, days=(since, until), where=query.where
        )
    return found


def _fold(
    rows: Iterable[RollupRow], period: str | None, columns: list[str]
) -> dict[tuple[str, ...], dict[str, int]]:
    """Sums per group, with the day (first, when a period is asked) turned into its bucket."""
    sums: dict[tuple[str, ...], dict[str, int]] = {}
    for row in rows:
        group = row.group
        if period is not None:
            group = (bucket(group[0], period), *group[1:])
        into = sums.setdefault(group, dict.fromkeys(columns, 0))
        for name in columns:
            into[name] += row.counts[name]
    return sums


def _usage_row(
    names: tuple[str, ...], group: tuple[str, ...], counts: Mapping[str, int]
) -> UsageRow:
    fields: dict[str, Any] = dict(zip(names, group, strict=True))
    fields.update((name, counts[name]) for name in _SHOWN)
    fields["failure_rate"] = failure_rate(counts)
    # every field is given and checked (whole numbers summed from the rollups, key text)
    return UsageRow.model_construct(None, **fields)


def usage_report(reader: LedgerReader, query: ReportQuery) -> UsageReport:
    """Jobs and credits held, captured and refunded per group of ``query.by``."""
    period = query.period
    dims = [name for name in query.by if name not in PERIODS]
    group_by = (["day"] if period else []) + [DIMENSIONS[name] for name in dims]
    sums = _fold(usage_totals(reader, query, group_by), period, list(_USAGE))
    names = (("period",) if period else ()) + tuple(DIMENSIONS[name] for name in dims)
    rows = [_usage_row(names, group, sums[group]) for group in sorted(sums)]
    total = dict.fromkeys(_USAGE, 0)
    for counts in sums.values():
        for name in _USAGE:
            total[name] += counts[name]
    return UsageReport(
        since=query.since,
        until=query.until,
        by=list(query.by),
        rows=rows,
        total=_usage_row((), (), total),
    )


def breakage_report(reader: LedgerReader, query: ReportQuery) -> BreakageReport:
    """Credits expired unused, by month and grant kind."""
    where = {"flow": FLOW_EXPIRED}
    if "wallet_id" in query.where:
        where["wallet_id"] = query.where["wallet_id"]
    found = reader.rollup_totals("flows", group_by=["day", "kind"], days=query.days, where=where)
    sums = _fold(found, "month", ["credits", "items"])
    rows = [
        BreakageRow(month=month, kind=kind, credits_expired=c["credits"], grants_expired=c["items"])
        for (month, kind), c in sorted(sums.items())
    ]
    return BreakageReport(
        since=query.since,
        until=query.until,
        rows=rows,
        credits_expired=sum(r.credits_expired for r in rows),
        grants_expired=sum(r.grants_expired for r in rows),
    )


def sales(
    reader: LedgerReader, until: str | None, currency: str | None
) -> tuple[str | None, int, int, int]:
    """(currency, money in millionths, credits, bonus) sold up to ``until``."""
    found = reader.rollup_totals(
        "flows", group_by=["currency"], days=(None, until), where={"flow": FLOW_SOLD}
    )
    by_currency = {row.group[0]: row.counts for row in found if row.counts["credits"]}
    if currency is None:
        if len(by_currency) > 1:
            sold = ", ".join(sorted(by_currency))
            raise InvalidRequest.for_field("currency", None, f"one of the currencies sold: {sold}")
        currency = next(iter(by_currency), None)
    elif currency not in by_currency:
        sold = ", ".join(sorted(by_currency)) or "none yet"
        raise InvalidRequest.for_field("currency", currency, f"a currency sold ({sold})")
    counts = by_currency.get(currency or "", {})
    return currency, counts.get("money_micros", 0), counts.get("credits", 0), counts.get("bonus", 0)
