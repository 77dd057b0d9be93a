"""Reports for operators (admin): usage, margin, breakage, as JSON or CSV.

Each answers from the ledger's rollups (docs/reports.md).  ``output=csv`` (or an ``Accept``
header naming ``text/csv``) answers the report's rows as CSV, one header line first; the JSON
answer also carries the period, the totals and, for margin, the credit value and the models
without a recorded cost.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from gencredits import limits
from gencredits.api.auth import SCOPE_EXTRA, AdminKey
from gencredits.api.errors import error_responses
from gencredits.api.state import ServicesDep
from gencredits.billing import Billing
from gencredits.ledger.store import LedgerReader
from gencredits.reports import (
    MARGIN_BREAKDOWNS,
    BreakageReport,
    MarginReport,
    ReportQuery,
    UsageReport,
    breakage_report,
    margin_report,
    usage_report,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"])
R = TypeVar("R")
_F = TypeVar("_F", bound=Callable[..., Any])
T = TypeVar("T", bound="Tabular")

_DAY = r"^\d{4}-\d{2}-\d{2}$"
_ID = r"^[^\x00-\x1f\x7f]+$"
Since = Annotated[
    str | None, Query(pattern=_DAY, description="First day of the period (YYYY-MM-DD, UTC).")
]
Until = Annotated[str | None, Query(pattern=_DAY, description="Day after the period (excluded).")]
Days = Annotated[int | None, Query(ge=1, le=36600, description="The last N days, today included.")]
By = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=r"^[a-z,]+$",
        description="Group by, comma separated: wallet, member, model, mode, route, and one of "
        "day, week, month.",
    ),
]
Filter = Annotated[str | None, Query(min_length=1, max_length=limits.ID_LEN_MAX, pattern=_ID)]
Output = Annotated[
    Literal["json", "csv"] | None,
    Query(description="csv: the rows as CSV (also chosen by Accept: text/csv)."),
]
CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


class Tabular(Protocol):
    def columns(self) -> list[str]: ...
    def table(self) -> list[list[str]]: ...


def _wants_csv(request: Request, asked: str | None) -> bool:
    if asked is not None:
        return asked == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def as_csv(report: Tabular) -> Response:
    """The report's rows as CSV, its column names first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns())
    writer.writerows(report.table())
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


async def _read(billing: Billing, make: Callable[[LedgerReader], R]) -> R:
    def run() -> R:
        with billing.store.reader() as reader:
            return make(reader)

    return await run_in_threadpool(run)


async def _answer(
    request: Request, output: str | None, billing: Billing, make: Callable[[LedgerReader], T]
) -> T | Response:
    """The report ``make`` reads, as JSON or (asked by ``output`` or ``Accept``) as CSV."""
    report = await _read(billing, make)
    return as_csv(report) if _wants_csv(request, output) else report


def _report(path: str, answer: type[Tabular]) -> Callable[[_F], _F]:
    """The GET route of one report (admin): its JSON type, or CSV."""
    return router.get(
        path,
        response_model=answer,
        responses={**error_responses(401, 403, 422, 503), **CSV_ANSWER},
        openapi_extra=SCOPE_EXTRA["admin"],
    )


@_report("/usage", UsageReport)
async def get_usage_report(
    request: Request,
    services: ServicesDep,
    _key: AdminKey,
    since: Since = None,
    until: Until = None,
    days: Days = None,
    by: By = None,
    wallet: Filter = None,
    member: Filter = None,
    model: Filter = None,
    route: Filter = None,
    output: Output = None,
) -> UsageReport | Response:
    """Jobs, credits held, captured and refunded, failures and the failure rate, per group."""
    query = ReportQuery.of(
        since=since,
        until=until,
        days=days,
        by=by,
        now=services.billing.clock.now(),
        wallet=wallet,
        member=member,
        model=model,
        route=route,
    )
    return await _answer(request, output, services.billing, lambda r: usage_report(r, query))


@_report("/margin", MarginReport)
async def get_margin_report(
    request: Request,
    services: ServicesDep,
    _key: AdminKey,
    since: Since = None,
    until: Until = None,
    days: Days = None,
    by: Annotated[
        str | None,
        Query(max_length=20, pattern=r"^[a-z,]+$", description="model, route, or both"),
    ] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    output: Output = None,
) -> MarginReport | Response:
    """Revenue in credits and money, provider cost and margin per model and route, and over
    all costed usage; models without a recorded cost are listed apart."""
    now = services.billing.clock.now()
    query = ReportQuery.of(
        since=since, until=until, days=days, by=by, allowed=MARGIN_BREAKDOWNS, now=now
    )
    return await _answer(
        request, output, services.billing, lambda r: margin_report(r, query, currency)
    )


@_report("/breakage", BreakageReport)
async def get_breakage_report(
    request: Request,
    services: ServicesDep,
    _key: AdminKey,
    since: Since = None,
    until: Until = None,
    days: Days = None,
    wallet: Filter = None,
    output: Output = None,
) -> BreakageReport | Response:
    """Credits that expired unused, by month and grant kind."""
    now = services.billing.clock.now()
    query = ReportQuery.of(since=since, until=until, days=days, wallet=wallet, now=now)
    return await _answer(request, output, services.billing, lambda r: breakage_report(r, query))
