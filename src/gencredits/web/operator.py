"""Operator pages (admin key): usage, margin and breakage reports with a chart and CSV
downloads, catalogs with their versions and the price difference between two, and the plans
and packs with their effective price per credit.

Each page reads what the API's admin and read routes read, through the same library calls
(the reports of :mod:`gencredits.reports`, the catalog versions of
:class:`~gencredits.billing.catalog_versions.VersionedCatalogs`, ``Billing.plans``), so the
numbers on a page are the numbers of ``/v1/reports/...`` for the same period.  A key signed
in without the ``admin`` scope (a billing key, for the wallet pages) gets a page saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gencredits import limits
from gencredits.api.keys import grants_scope
from gencredits.api.routes.reports import as_csv
from gencredits.api.state import Services
from gencredits.billing.catalog_versions import VersionedCatalogs
from gencredits.errors import GencreditsError
from gencredits.ledger.store import LedgerReader
from gencredits.pricing.diff import CatalogDiff, diff_catalogs
from gencredits.reports import (
    BREAKDOWNS,
    BreakageReport,
    MarginReport,
    ReportQuery,
    UsageReport,
    breakage_report,
    margin_report,
    usage_report,
)
from gencredits.web.chart import GroupedChart, grouped_chart
from gencredits.web.session import Staff, StaffDep
from gencredits.web.wallets import staff_page

__all__ = ["ADMIN_SCOPE", "AdminRequired", "admin_refused", "router"]

router = APIRouter(prefix="/staff", include_in_schema=False)
ADMIN_SCOPE = "admin"
#: The periods the reports offer, in days ("all": all time).
REPORT_PERIODS = ("7", "30", "90", "365", "all")
DEFAULT_PERIOD = "30"
CHART_SERIES = ("captured", "refunded")
#: The most models the chart draws (the table lists them all).
CHART_GROUPS_MAX = 12
#: The chart over time: per day up to a month, per week for 90 days, else per month.
TIME_BUCKETS = {"7": "day", "30": "day", "90": "week", "365": "month", "all": "month"}
TIME_GROUPS_MAX = 36
R = TypeVar("R")
Period = Annotated[str, Query(max_length=10)]


class AdminRequired(Exception):
    """A signed-in key without the admin scope opened an operator page."""

    def __init__(self, staff: Staff) -> None:
        super().__init__("admin scope needed")
        self.staff = staff


async def current_admin(staff: StaffDep) -> Staff:
    if not grants_scope(staff.key.scopes, ADMIN_SCOPE):
        raise AdminRequired(staff)
    return staff


AdminDep = Annotated[Staff, Depends(current_admin)]


async def admin_refused(request: Request, exc: Exception) -> Response:
    """The answer to :class:`AdminRequired`: 403, a page naming the scope needed."""
    assert isinstance(exc, AdminRequired)
    return staff_page(request, exc.staff, "refused.html", {"needed": ADMIN_SCOPE}, 403)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _days(period: str) -> int | None:
    """The days of a period choice (``None``: all time); an unknown choice is the default."""
    chosen = period if period in REPORT_PERIODS else DEFAULT_PERIOD
    return None if chosen == "all" else int(chosen)


def _query(services: Services, period: str, by: str | None) -> ReportQuery:
    now = services.billing.clock.now()
    return ReportQuery.of(days=_days(period), by=by, allowed=BREAKDOWNS, now=now)


async def _read(services: Services, make: Callable[[LedgerReader], R]) -> R:
    def run() -> R:
        with services.billing.store.reader() as reader:
            return make(reader)

    return await run_in_threadpool(run)


Report = UsageReport | MarginReport | BreakageReport
#: Each report as the pages show it: usage and margin by model, breakage by month and kind.
MAKERS: dict[str, Callable[[LedgerReader, ReportQuery], Report]] = {
    "usage": usage_report,
    "margin": lambda reader, query: margin_report(reader, query, None),
    "breakage": breakage_report,
}
GROUPED = {"usage": "model", "margin": "model", "breakage": None}


async def _reports(services: Services, period: str, *names: str) -> list[Report]:
    """The reports ``names`` over ``period``, read in one reader."""
    queries = [(MAKERS[n], _query(services, period, GROUPED[n])) for n in names]
    return await _read(services, lambda r: [make(r, query) for make, query in queries])


def usage_chart(usage: UsageReport) -> GroupedChart:
    """Captured against refunded credits per model, the models that captured most first."""
    rows = sorted(usage.rows, key=lambda r: (-r.captured, -r.refunded, r.model or ""))
    values = [
        (row.model or row.mode or "-", {"captured": row.captured, "refunded": row.refunded})
        for row in rows[:CHART_GROUPS_MAX]
    ]
    return grouped_chart(values, CHART_SERIES)


def time_chart(usage: UsageReport) -> GroupedChart:
    """Captured against refunded credits per day, week or month, the latest ones."""
    rows = sorted(usage.rows, key=lambda r: r.period or "")[-TIME_GROUPS_MAX:]
    values = [
        (row.period or "-", {"captured": row.captured, "refunded": row.refunded}) for row in rows
    ]
    return grouped_chart(values, CHART_SERIES)


@router.get("/reports")
async def reports_page(
    request: Request,
    staff: AdminDep,
    days: Period = DEFAULT_PERIOD,
    chart: Annotated[str, Query(max_length=10)] = "model",
) -> Response:
    """Usage by model with its chart (per model, or per day, week or month with
    ``chart=time``), margin by model (uncosted models apart) and breakage by month, over
    the chosen period."""
    period = days if days in REPORT_PERIODS else DEFAULT_PERIOD
    services = _services(request)
    usage, margin, breakage = await _reports(services, period, "usage", "margin", "breakage")
    assert isinstance(usage, UsageReport)
    drawn, hidden = usage_chart(usage), max(0, len(usage.rows) - CHART_GROUPS_MAX)
    bucket = TIME_BUCKETS[period]
    if chart == "time":
        query = _query(services, period, bucket)
        by_time = await _read(services, lambda r: usage_report(r, query))
        drawn, hidden = time_chart(by_time), max(0, len(by_time.rows) - TIME_GROUPS_MAX)
    context: dict[str, Any] = {
        "period": period,
        "periods": REPORT_PERIODS,
        "chart_by": "time" if chart == "time" else "model",
        "bucket": bucket,
        "usage": usage,
        "margin": margin,
        "breakage": breakage,
        "chart": drawn,
        "hidden": hidden,
        "label_every": max(1, -(-len(drawn.groups) // 8)),
    }
    return staff_page(request, staff, "reports.html", context)


@router.get("/reports/{name}.csv")
async def report_csv(
    request: Request, name: str, staff: AdminDep, days: Period = DEFAULT_PERIOD
) -> Response:
    """A report's rows as the API's CSV (``output=csv``) for the same period."""
    period = days if days in REPORT_PERIODS else DEFAULT_PERIOD
    if name not in MAKERS:
        missing = f"There is no report {name!r}; reports: {', '.join(MAKERS)}."
        return staff_page(request, staff, "refused.html", {"missing": missing}, 404)
    (report,) = await _reports(_services(request), period, name)
    answer = as_csv(report)
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}-{period}.csv"'
    answer.headers["Cache-Control"] = "no-store"
    return answer


# --- catalogs ------------------------------------------------------------------------------

_Choice = Annotated[str | None, Query(max_length=limits.ID_LEN_MAX)]


@router.get("/catalogs")
async def catalogs_page(
    request: Request,
    staff: AdminDep,
    catalog: _Choice = None,
    old: _Choice = None,
    new: _Choice = None,
) -> Response:
    """Every catalog with its active version; the chosen one's versions and the price
    difference between two of them (default: the active one and the one published last)."""
    catalogs = _services(request).catalogs
    names = sorted(catalogs)
    chosen = catalog if catalog in names else (names[0] if names else None)
    context: dict[str, Any] = {"catalog": chosen, "versioned": False}
    context["summary"] = [(c.name, c.version, c.hash, len(c.models)) for c in catalogs.values()]
    if isinstance(catalogs, VersionedCatalogs) and chosen is not None:
        context["versioned"] = True
        try:
            context.update(await run_in_threadpool(_versions_of, catalogs, chosen, old, new))
        except GencreditsError as exc:
            context["error"] = exc.message
            context.setdefault("versions", [])
            status = exc.http_status
            return staff_page(request, staff, "catalogs.html", context, status)
    return staff_page(request, staff, "catalogs.html", context)


def _versions_of(
    catalogs: VersionedCatalogs, name: str, old: str | None, new: str | None
) -> dict[str, Any]:
    records = catalogs.versions(name)
    active = catalogs.active(name)
    active_hash = "" if active is None else active.hash
    before = catalogs.version(name, old) if old else catalogs.active_record(name)
    after = catalogs.version(name, new) if new else records[-1]
    diff: CatalogDiff = diff_catalogs(catalogs.compiled(before), catalogs.compiled(after))
    return {
        "versions": [(r, r.content_hash == active_hash) for r in records],
        "old": before.version,
        "new": after.version,
        "diff": diff,
        "changes": diff.changes,
    }


# --- plans ---------------------------------------------------------------------------------


@router.get("/plans")
async def plans_page(request: Request, staff: AdminDep) -> Response:
    """Plans and packs with their effective price per credit (what GET /v1/plans answers)."""
    plans = _services(request).billing.plans()
    return staff_page(request, staff, "plans.html", {"plans": plans})
