"""``gencredits report usage|margin|breakage``: the operator reports as tables (or ``--json``).

Runs on the local database (``--database-url``) or, with ``--url``, asks the service
(``GET /v1/reports/...``, an admin key).  The figures and the margin method: docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel
from rich.table import Table

from gencredits.billing import Billing
from gencredits.cli._app import JsonOpt, app, console, fail, print_json
from gencredits.cli._connection import connection, database_errors
from gencredits.errors import GencreditsError, InvalidRequest
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

report_app = typer.Typer(help="Usage, margin and breakage reports (from the ledger's rollups).")
app.add_typer(report_app, name="report", no_args_is_help=True)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

SinceOpt = Annotated[
    str | None, typer.Option(metavar="YYYY-MM-DD", help="First day of the period (UTC).")
]
UntilOpt = Annotated[
    str | None, typer.Option(metavar="YYYY-MM-DD", help="Day after the period (excluded).")
]
DaysOpt = Annotated[int | None, typer.Option(metavar="N", help="The last N days, today included.")]
ByOpt = Annotated[
    str | None,
    typer.Option(
        metavar="LIST",
        help="Group by, comma separated: wallet, member, model, mode, route, and one of "
        "day, week, month.",
    ),
]
WalletOpt = Annotated[str | None, typer.Option(metavar="WALLET", help="Only this wallet.")]


def _run(
    ctx: typer.Context,
    path: str,
    params: dict[str, str | int | None],
    answer: type[M],
    local: Callable[[LedgerReader], M],
    as_json: bool,
) -> M:
    """The report from the service at ``--url``, else from the local database; an error
    ends the command with one line and its family's exit code."""
    return _checked(as_json, lambda: _fetch(ctx, path, params, answer, local))


def _checked(as_json: bool, work: Callable[[], T]) -> T:
    try:
        return work()
    except GencreditsError as exc:
        fail(exc, as_json=as_json)


def _fetch(
    ctx: typer.Context,
    path: str,
    params: dict[str, str | int | None],
    answer: type[M],
    local: Callable[[LedgerReader], M],
) -> M:
    conn = connection(ctx)
    if conn.url:
        from gencredits.client import Client

        sent = {k: str(v) for k, v in params.items() if v is not None}
        with Client(conn.url, conn.api_key) as client:
            response = client.request("GET", path, params=sent)
        if response.status_code != 200:
            error = response.json().get("error", {})
            message = error.get("message", response.text)
            raise InvalidRequest(f"{path}: {message}", details=error.get("details", {}))
        return answer.model_validate(response.json())
    with database_errors(conn.database_url):
        billing = conn.billing(existing=True)
        assert isinstance(billing, Billing)
        with billing.store.reader() as reader:
            return local(reader)


def _table(columns: list[str], rows: list[list[str]], title: str) -> Table:
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*row)
    return table


def _period(since: str | None, until: str | None) -> str:
    return f"{since or 'the start'} to {until or 'now'}"


@report_app.command("usage")
def report_usage(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    days: DaysOpt = None,
    by: ByOpt = None,
    wallet: WalletOpt = None,
    member: Annotated[str | None, typer.Option(metavar="MEMBER", help="Only this member.")] = None,
    model: Annotated[str | None, typer.Option(metavar="MODEL", help="Only this model.")] = None,
    route: Annotated[str | None, typer.Option(metavar="ROUTE", help="Only this route.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Jobs and credits held, captured and refunded, failures and the failure rate."""
    query = _checked(
        as_json,
        lambda: ReportQuery.of(
            since=since,
            until=until,
            days=days,
            by=by,
            wallet=wallet,
            member=member,
            model=model,
            route=route,
        ),
    )
    params: dict[str, str | int | None] = {"since": query.since, "until": query.until}
    params |= {"by": ",".join(query.by) or None, "wallet": wallet, "member": member}
    params |= {"model": model, "route": route}
    report = _run(
        ctx, "/v1/reports/usage", params, UsageReport, lambda r: usage_report(r, query), as_json
    )
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(
        _table(report.columns(), report.table(), f"Usage, {_period(query.since, query.until)}")
    )
    t = report.total
    rate = "-" if t.failure_rate is None else str(t.failure_rate)
    console.print(
        f"total: {t.jobs} jobs, {t.held} held, {t.captured} captured, {t.refunded} refunded, "
        f"{t.failed + t.timed_out} failed or timed out (failure rate {rate})"
    )


@report_app.command("margin")
def report_margin(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    days: DaysOpt = None,
    by: Annotated[
        str | None, typer.Option(metavar="LIST", help="model, route, or both (model,route).")
    ] = "model",
    currency: Annotated[
        str | None, typer.Option(metavar="CODE", help="The sales currency (when several).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revenue (credits and money), provider cost and margin per model and route."""
    query = _checked(
        as_json,
        lambda: ReportQuery.of(
            since=since, until=until, days=days, by=by, allowed=MARGIN_BREAKDOWNS
        ),
    )
    params: dict[str, str | int | None] = {"since": query.since, "until": query.until}
    params |= {"by": ",".join(query.by) or None, "currency": currency}
    report = _run(
        ctx,
        "/v1/reports/margin",
        params,
        MarginReport,
        lambda r: margin_report(r, query, currency),
        as_json,
    )
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(
        f"credit value: {report.credit_value if report.credit_value is not None else '-'} "
        f"{report.currency or ''} ({report.money_sold} for {report.credits_sold} credits sold, "
        f"{report.bonus_sold} of them bonus)"
    )
    console.print(
        _table(report.columns(), report.table(), f"Margin, {_period(query.since, query.until)}")
    )
    t = report.total
    shown = ["-" if v is None else str(v) for v in (t.revenue, t.cost, t.margin, t.margin_share)]
    console.print("total: revenue {}, cost {}, margin {} ({})".format(*shown))
    if report.uncosted:
        rows = [
            [u.model, u.route, str(u.succeeded), str(u.credits_captured)] for u in report.uncosted
        ]
        console.print(
            _table(
                ["model", "route", "succeeded", "credits_captured"],
                rows,
                "No provider cost recorded",
            )
        )


@report_app.command("breakage")
def report_breakage(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    days: DaysOpt = None,
    wallet: WalletOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Credits that expired unused, by month and grant kind."""
    query = _checked(
        as_json, lambda: ReportQuery.of(since=since, until=until, days=days, wallet=wallet)
    )
    params: dict[str, str | int | None] = {"since": query.since, "until": query.until}
    params["wallet"] = wallet
    report = _run(
        ctx,
        "/v1/reports/breakage",
        params,
        BreakageReport,
        lambda r: breakage_report(r, query),
        as_json,
    )
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(
        _table(report.columns(), report.table(), f"Breakage, {_period(query.since, query.until)}")
    )
    console.print(f"total: {report.credits_expired} credits in {report.grants_expired} grants")
