"""Wallet pages for support staff: search, a wallet's credits, grants, jobs and history,
a CSV export of the history and a chart of credits spent per day by model.

Every page reads through :class:`~gencredits.billing.Billing`'s public methods (the same
calls the API makes), from FastAPI's threadpool.  Lists the library pages are read page by
page up to a bound (``SCAN_ITEMS_MAX``), and the page says when it stopped there.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gencredits import limits
from gencredits.api.state import Services
from gencredits.billing import Billing, EntryView, JobView, WalletView
from gencredits.errors import GencreditsError, NotFound
from gencredits.web import session
from gencredits.web.chart import PERIODS_D, spend_chart
from gencredits.web.session import StaffDep
from gencredits.web.templating import page

__all__ = ["router", "signin_page", "staff_page"]

router = APIRouter(prefix="/staff", include_in_schema=False)
#: The most items a page reads from one list (wallets for a search, jobs for a chart).
SCAN_ITEMS_MAX = 5000
HISTORY_PAGE = 25
RECENT_JOBS = 20
SEARCH_RESULTS_MAX = 50
_WalletId = Annotated[str, Query(max_length=limits.ID_LEN_MAX)]


def _billing(request: Request) -> Billing:
    services: Services = request.app.state.services
    return services.billing


def signin_page(request: Request, reason: str | None, status_code: int = 200) -> Response:
    token = session.csrf_for(request)
    response = page(
        request,
        "signin.html",
        {"reason": reason, "csrf": token},
        status_code=status_code,
        private=True,
    )
    session.keep_csrf(request, response, token)
    return response


def staff_page(
    request: Request,
    staff: session.Staff,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    """A signed-in page: the key's name in the header, the sign-out form's CSRF token."""
    token = session.csrf_for(request)
    context = {**context, "staff": staff.key, "csrf": token}
    response = page(request, name, context, status_code=status_code, private=True)
    session.keep_csrf(request, response, token)
    return response


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return signin_page(request, None)


@router.post("/signin")
async def signin(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not session.check_csrf(request, csrf):
        return signin_page(request, "The form expired; please sign in again.", 403)
    try:
        await session.sign_in(request, api_key)
    except GencreditsError as exc:
        return signin_page(request, exc.message, exc.http_status)
    response = RedirectResponse("/staff", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    session.start_session(request, response, api_key)
    return response


@router.post("/signout")
async def signout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not session.check_csrf(request, csrf):
        return signin_page(request, "The form expired; sign out again.", 403)
    response = RedirectResponse("/staff/signin", status_code=303)
    session.end_session(response)
    return response


@router.get("")
async def search(
    request: Request,
    staff: StaffDep,
    q: Annotated[str, Query(max_length=limits.ID_LEN_MAX)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Wallet search: an exact id opens the wallet; other text lists the ids holding it."""
    billing = _billing(request)
    q = q.strip()
    if q:
        try:
            await run_in_threadpool(billing.get_wallet, q)
            return RedirectResponse(f"/staff/wallets/{q}", status_code=303)
        except GencreditsError:
            pass
        found, complete = await run_in_threadpool(_matching_wallets, billing, q)
        return staff_page(
            request, staff, "wallets.html", {"q": q, "wallets": found, "complete": complete}
        )
    listed = await run_in_threadpool(lambda: billing.list_wallets(cursor=cursor, limit=50))
    return staff_page(
        request,
        staff,
        "wallets.html",
        {"q": "", "wallets": listed.items, "complete": True, "next": listed.next_cursor},
    )


def _matching_wallets(billing: Billing, q: str) -> tuple[list[WalletView], bool]:
    """Wallets whose id holds ``q`` (case-insensitive), and whether every wallet was read."""
    found: list[WalletView] = []
    cursor: str | None = None
    folded = q.casefold()
    for _ in range(SCAN_ITEMS_MAX // limits.PAGE_MAX):
        listed = billing.list_wallets(cursor=cursor, limit=limits.PAGE_MAX)
        found += [w for w in listed.items if folded in w.id.casefold()]
        cursor = listed.next_cursor
        if cursor is None or len(found) >= SEARCH_RESULTS_MAX:
            return found[:SEARCH_RESULTS_MAX], cursor is None
    return found[:SEARCH_RESULTS_MAX], False


def all_jobs(billing: Billing, wallet_id: str) -> tuple[list[JobView], bool]:
    """The wallet's jobs, oldest first, up to ``SCAN_ITEMS_MAX`` (and whether that was all)."""
    jobs: list[JobView] = []
    cursor: str | None = None
    while len(jobs) < SCAN_ITEMS_MAX:
        listed = billing.list_jobs(wallet_id, cursor=cursor, limit=limits.PAGE_MAX, order="asc")
        jobs += listed.items
        cursor = listed.next_cursor
        if cursor is None:
            return jobs, True
    return jobs, False


def refunded(job: JobView) -> int:
    """Credits given back to the wallet for a job: the whole hold of a failed, cancelled or
    timed-out one (status 2), the unused part of a smaller success."""
    if job.status == 2:
        return job.credits_quoted
    if job.status == 1:
        return max(0, job.credits_quoted - job.credits_used - job.written_off)
    return 0


@router.get("/wallets/{wallet_id}")
async def wallet_page(
    request: Request,
    wallet_id: str,
    staff: StaffDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    days: int = 30,
) -> Response:
    billing = _billing(request)
    period_d = days if days in PERIODS_D else 30
    try:
        wallet, grants, (jobs, complete), history = await run_in_threadpool(
            lambda: (
                billing.get_wallet(wallet_id),
                billing.list_grants(wallet_id, limit=limits.PAGE_MAX).items,
                all_jobs(billing, wallet_id),
                billing.history(wallet_id, cursor=cursor, limit=HISTORY_PAGE),
            )
        )
    except NotFound as exc:
        return staff_page(
            request,
            staff,
            "wallets.html",
            {"q": wallet_id, "wallets": [], "complete": True, "error": exc.message},
        )
    chart = spend_chart(jobs, datetime.now(UTC).date(), period_d)
    recent = list(reversed(jobs[-RECENT_JOBS:]))
    return staff_page(
        request,
        staff,
        "wallet.html",
        {
            "wallet": wallet,
            "grants": grants,
            "jobs": [(j, refunded(j)) for j in recent],
            "jobs_complete": complete,
            "history": history,
            "cursor": cursor,
            "chart": chart,
            "periods": PERIODS_D,
            "period_d": period_d,
        },
    )


@router.get("/api/wallets/{wallet_id}")
async def wallet_summary(request: Request, wallet_id: str, staff: StaffDep) -> Response:
    """Available and held credits, for the estimator's "enough for N of these"."""
    wallet = await run_in_threadpool(_billing(request).get_wallet, wallet_id)
    return JSONResponse(
        {"id": wallet.id, "available": wallet.available, "held": wallet.held},
        headers={"Cache-Control": "no-store"},
    )


CSV_COLUMNS = (
    "seq",
    "id",
    "created_at",
    "kind",
    "job_id",
    "grant_id",
    "available_delta",
    "held_delta",
    "memo",
)


def _file_name(wallet_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", wallet_id)[:80] or "wallet"


def _cell(text: str | None) -> str:
    """Text as a spreadsheet shows it, never as a formula (a memo may come from a provider)."""
    value = text or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/wallets/{wallet_id}/history.csv")
async def history_csv(request: Request, wallet_id: str, staff: StaffDep) -> Response:
    """The whole ledger history of the wallet, newest first, one transaction a row."""
    billing = _billing(request)
    first = await run_in_threadpool(billing.history, wallet_id, limit=limits.PAGE_MAX)

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        page_items: list[EntryView] = list(first.items)
        cursor = first.next_cursor
        while True:
            for e in page_items:
                writer.writerow(
                    [
                        e.seq,
                        e.id,
                        e.created_at.isoformat(),
                        e.kind,
                        _cell(e.job_id),
                        _cell(e.grant_id),
                        e.available_delta,
                        e.held_delta,
                        _cell(e.memo),
                    ]
                )
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if cursor is None:
                return
            listed = billing.history(wallet_id, cursor=cursor, limit=limits.PAGE_MAX)
            page_items, cursor = list(listed.items), listed.next_cursor

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{_file_name(wallet_id)}-history.csv"',
            "Cache-Control": "no-store",
        },
    )
