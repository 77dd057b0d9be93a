"""Wallets, grants, jobs, ledger history, provider callbacks, sweep and audit.

Each route returns what :class:`~gencredits.billing.Billing` returns, a wire type of
:mod:`gencredits.billing.views` declared as its ``response_model``, so FastAPI checks and
serialises the documented type.  Billing is synchronous (SQLAlchemy): the routes call it
in the threadpool (``run_in_threadpool``), so the event loop never blocks and the answer
is serialised on the loop without a second trip to a thread.

``Idempotency-Key`` is REQUIRED on every POST that moves credits (grants, void, submit,
complete, fail, cancel, free jobs) and optional on wallet creation (a wallet's id is its
own natural key).  It is never generated server-side: a key made up by the server on each
attempt would turn a client's retry into a second hold, which is exactly the bug the
header exists to prevent.  Same key and same request: the original answer
(``replayed: true``); same key, different request: ``409 idempotency_conflict``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import SCOPE_EXTRA, AdminKey, BillingKey, ReadKey
from gencredits.api.errors import error_responses
from gencredits.api.routes.common import (
    Cursor,
    IdempotencyHeader,
    JobId,
    Limit,
    OptionalIdempotencyHeader,
    Routes,
    WalletId,
    Write,
    write_of,
)
from gencredits.api.schemas import (
    CALLBACK_KEY_PREFIX,
    AuditReport,
    CallbackCreate,
    EntryPage,
    FreeJobCreate,
    GrantCreate,
    GrantPage,
    JobComplete,
    JobCreate,
    JobFail,
    JobPage,
    WalletCreate,
    WalletPage,
)
from gencredits.api.state import Services, ServicesDep
from gencredits.billing.views import GrantView, JobView, ListOrder, Page, SweepReport, WalletView
from gencredits.errors import AuthenticationFailed
from gencredits.limits import GRANT_KIND_LEN_MAX, ID_LEN_MAX

_route = Routes()
router = _route.router

GrantId = JobId
NewestFirst = Annotated[
    ListOrder, Query(description="desc: newest first (the default); asc: oldest first.")
]
ById = Annotated[ListOrder, Query(description="asc: by id, a to z (the default); desc: z to a.")]

SUBMIT = error_responses(401, 402, 403, 404, 409, 422, 423, 503)

_P = TypeVar("_P", bound=Page[Any])
_reads, _writes = _route.reads, _route.writes


def _named(kind: type[_P], page: Page[Any]) -> _P:
    """The library's page as the API's named page type (same fields, no copy)."""
    return cast(_P, kind.model_construct(items=page.items, next_cursor=page.next_cursor))


async def _paged(kind: type[_P], read: Callable[[], Page[Any]]) -> _P:
    """One page of a billing read, read in the threadpool, as the API's named page type."""
    return _named(kind, await run_in_threadpool(read))


#: What every POST that adds to a wallet (a grant, a job, a free job) takes besides its
#: body: the wallet in the path, a ``billing`` key, and the required ``Idempotency-Key``.
WalletWrite = Write
wallet_write = write_of("wallet_id", ID_LEN_MAX)
WalletWriteDep = Annotated[WalletWrite, Depends(wallet_write)]


CALLBACK_SIGNATURE_PREFIX = "sha256="
CALLBACK_EXTRA: dict[str, object] = {
    "x-scope": "signature",
    "security": [],
}


# --- wallets -----------------------------------------------------------------------------


@router.post(
    "/wallets",
    tags=["wallets"],
    status_code=201,
    response_model=WalletView,
    responses={
        200: {
            "model": WalletView,
            "description": "The wallet already existed with these settings (replayed: true)",
        },
        **error_responses(401, 403, 409, 422, 503),
    },
    openapi_extra=SCOPE_EXTRA["billing"],
)
async def create_wallet(
    body: WalletCreate,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: OptionalIdempotencyHeader = None,
) -> WalletView | JSONResponse:
    """Create a wallet (a user's or a team's): 201.  Creating it again with the same
    settings returns it, 200 with ``replayed: true``; with different settings is a
    ``wallet_exists`` conflict."""
    view = await run_in_threadpool(
        services.billing.create_wallet,
        body.id,
        owner_kind=body.owner_kind,
        overdraft_limit=body.overdraft_limit,
        hold_ttl_s=body.hold_ttl_s,
        extra_charge_share=body.extra_charge_share,
        idempotency_key=idempotency_key,
    )
    if view.replayed:  # nothing was created: not a 201
        return JSONResponse(view.to_dict(), status_code=200)
    return view


@_reads("/wallets", "wallets", WalletPage)
async def list_wallets(
    services: ServicesDep,
    _key: ReadKey,
    cursor: Cursor = None,
    limit: Limit = 50,
    order: ById = "asc",
) -> WalletPage:
    """Every wallet, by id (``order=desc``: z to a)."""
    return await _paged(
        WalletPage,
        lambda: services.billing.list_wallets(cursor=cursor, limit=limit, order=order),
    )


@_reads("/wallets/{wallet_id}", "wallets", WalletView)
async def get_wallet(wallet_id: WalletId, services: ServicesDep, _key: ReadKey) -> WalletView:
    """Available, held and balance, the live grants by kind and the soonest expiries: a
    bounded answer whatever the number of grants (they are paged by .../grants)."""
    return await run_in_threadpool(services.billing.get_wallet, wallet_id)


# --- grants ------------------------------------------------------------------------------


@_writes("/wallets/{wallet_id}/grants", "grants", GrantView, created=True)
async def create_grant(body: GrantCreate, call: WalletWriteDep) -> GrantView:
    """Add credits to a wallet: a monthly allowance, a purchased pack, a bonus..."""
    return await run_in_threadpool(
        call.billing.grant,
        call.id,
        body.amount,
        kind=body.kind,
        priority=body.priority,
        expires_at=body.expires_at,
        effective_at=body.effective_at,
        source=body.source,
        idempotency_key=call.idempotency_key,
    )


@_reads("/wallets/{wallet_id}/grants", "grants", GrantPage)
async def list_grants(
    wallet_id: WalletId,
    services: ServicesDep,
    _key: ReadKey,
    active: Annotated[
        bool | None,
        Query(description="true: live grants (active, credit left); false: the others"),
    ] = None,
    kind: Annotated[str | None, Query(max_length=GRANT_KIND_LEN_MAX)] = None,
    expiring_before: Annotated[
        AwareDatetime | None, Query(description="only grants expiring before this instant")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> GrantPage:
    """The wallet's grants, newest first, paged, optionally only the live ones, of one kind,
    or expiring before an instant."""
    return await _paged(
        GrantPage,
        lambda: services.billing.list_grants(
            wallet_id,
            active=active,
            kind=kind,
            expiring_before=expiring_before,
            cursor=cursor,
            limit=limit,
        ),
    )


@_writes("/grants/{grant_id}/void", "grants", GrantView)
async def void_grant(
    grant_id: GrantId, services: ServicesDep, _key: BillingKey, idempotency_key: IdempotencyHeader
) -> GrantView:
    """Take back what is left of a grant (a refunded pack); held credits stay held."""
    return await run_in_threadpool(
        services.billing.void_grant, grant_id, idempotency_key=idempotency_key
    )


# --- jobs --------------------------------------------------------------------------------


@_writes("/wallets/{wallet_id}/jobs", "jobs", JobView, created=True, responses=SUBMIT)
async def submit_job(body: JobCreate, call: WalletWriteDep) -> JobView:
    """Quote the request and hold its total on the wallet: a pending job (status 0) whose
    ``creditsUsed`` is the amount taken.  402 with required, available and shortfall when
    the wallet cannot cover it (nothing recorded)."""
    return await run_in_threadpool(
        call.billing.submit,
        call.id,
        body.model,
        body.params,
        generations=body.generations,
        catalog=body.catalog,
        submitted_by=body.submitted_by or call.key.id,
        idempotency_key=call.idempotency_key,
        hold_ttl_s=body.hold_ttl_s,
        metadata=body.metadata,
        quote_hash=body.quote_hash,
    )


@_writes("/wallets/{wallet_id}/free-jobs", "jobs", JobView, created=True)
async def record_free_job(body: FreeJobCreate, call: WalletWriteDep) -> JobView:
    """Record zero-cost usage (scheduling, publishing, voiceover) so it shows in usage."""
    return await run_in_threadpool(
        call.billing.record_free_job,
        call.id,
        body.kind,
        submitted_by=body.submitted_by or call.key.id,
        idempotency_key=call.idempotency_key,
    )


@_reads("/wallets/{wallet_id}/jobs", "jobs", JobPage)
async def list_jobs(
    wallet_id: WalletId,
    services: ServicesDep,
    _key: ReadKey,
    status: Annotated[int | None, Query(ge=0, le=2, description="0, 1 or 2")] = None,
    state: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    order: NewestFirst = "desc",
) -> JobPage:
    """The wallet's jobs, newest first (``order=asc``: oldest first), optionally by
    numbered status or state name."""
    return await _paged(
        JobPage,
        lambda: services.billing.list_jobs(
            wallet_id, status=status, state=state, cursor=cursor, limit=limit, order=order
        ),
    )


@_reads("/jobs/{job_id}", "jobs", JobView)
async def get_job(job_id: JobId, services: ServicesDep, _key: ReadKey) -> JobView:
    return await run_in_threadpool(services.billing.get_job, job_id)


@_writes("/jobs/{job_id}/complete", "jobs", JobView)
async def complete_job(
    job_id: JobId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
    body: JobComplete | None = None,
) -> JobView:
    """The generation succeeded (status 1): capture the hold, priced on the submission's
    quote for what was actually made; any rest is released."""
    body = body or JobComplete()
    return await run_in_threadpool(
        services.billing.complete,
        job_id,
        actual_params=body.actual_params,
        actual_generations=body.actual_generations,
        idempotency_key=idempotency_key,
    )


@_writes("/jobs/{job_id}/fail", "jobs", JobView)
async def fail_job(
    job_id: JobId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
    body: JobFail | None = None,
) -> JobView:
    """The generation failed (status 2): the whole hold goes back to its grants."""
    reason = None if body is None else body.reason
    return await run_in_threadpool(
        services.billing.fail, job_id, reason=reason, idempotency_key=idempotency_key
    )


@_writes("/jobs/{job_id}/cancel", "jobs", JobView)
async def cancel_job(
    job_id: JobId, services: ServicesDep, _key: BillingKey, idempotency_key: IdempotencyHeader
) -> JobView:
    """Cancel before completion: released like a failure (status 2)."""
    return await run_in_threadpool(services.billing.cancel, job_id, idempotency_key=idempotency_key)


# --- ledger ------------------------------------------------------------------------------


@_reads("/wallets/{wallet_id}/history", "ledger", EntryPage)
async def wallet_history(
    wallet_id: WalletId,
    services: ServicesDep,
    _key: ReadKey,
    cursor: Cursor = None,
    limit: Limit = 50,
    order: NewestFirst = "desc",
) -> EntryPage:
    """The wallet's ledger transactions, newest first (``order=asc``: oldest first), each
    with its reason and postings."""
    return await _paged(
        EntryPage,
        lambda: services.billing.history(wallet_id, cursor=cursor, limit=limit, order=order),
    )


# --- provider callbacks ------------------------------------------------------------------


async def verify_signature(
    request: Request,
    timestamp: Annotated[
        str | None,
        Header(alias="X-Gencredits-Timestamp", max_length=20, description="Unix seconds."),
    ] = None,
    signature: Annotated[
        str | None,
        Header(
            alias="X-Gencredits-Signature",
            max_length=100,
            description='"sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)',
        ),
    ] = None,
) -> None:
    """Runs before the body is parsed: an unsigned request learns nothing about the body."""
    services: Services = request.app.state.services
    secret = services.settings.callback_secret
    if secret is None:
        raise AuthenticationFailed(
            "callbacks are disabled on this service (GENCREDITS_CALLBACK_SECRET is not set)",
            details={"field": "X-Gencredits-Signature", "value": None},
        )
    if not timestamp or not signature:
        raise AuthenticationFailed(
            "callback: X-Gencredits-Timestamp and X-Gencredits-Signature are required",
            details={"field": "X-Gencredits-Signature", "value": None},
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        sent_at = None
    tolerance_s = services.settings.callback_tolerance_s
    if sent_at is None or abs(time.time() - sent_at) > tolerance_s:
        raise AuthenticationFailed(
            f"callback: timestamp {timestamp!r} is not within {tolerance_s} s of now",
            details={
                "field": "X-Gencredits-Timestamp",
                "value": timestamp,
                "allowed": f"unix seconds within {tolerance_s} s of the server clock",
            },
        )
    body = await request.body()
    expected = sign_callback(secret.get_secret_value(), timestamp, body)
    if not hmac.compare_digest(expected, signature.strip()):
        raise AuthenticationFailed(
            "callback: signature does not match",
            details={"field": "X-Gencredits-Signature", "value": signature[:16] + "..."},
        )


def sign_callback(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a provider sends: ``sha256=`` + HMAC-SHA256(secret, ts + "." + body)."""
    message = timestamp.encode("ascii") + b"." + body
    return (
        CALLBACK_SIGNATURE_PREFIX
        + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    )


@router.post(
    "/callbacks/provider",
    tags=["callbacks"],
    response_model=JobView,
    responses=error_responses(401, 404, 409, 422, 503),
    openapi_extra=CALLBACK_EXTRA,
    dependencies=[Depends(verify_signature)],
)
async def provider_callback(body: CallbackCreate, services: ServicesDep) -> JobView:
    """A generation worker or provider reports a job's outcome.  Authenticated by its
    HMAC signature (not an API key); ``event_id`` is the idempotency key, so a replayed
    or duplicated report is answered with the job and changes nothing."""
    billing = services.billing
    key = CALLBACK_KEY_PREFIX + body.event_id
    if body.outcome == "succeeded":
        return await run_in_threadpool(
            billing.complete,
            body.job_id,
            actual_params=body.actual_params,
            actual_generations=body.actual_generations,
            idempotency_key=key,
        )
    return await run_in_threadpool(
        billing.fail, body.job_id, reason=body.reason, idempotency_key=key
    )


# --- operations --------------------------------------------------------------------------


@router.post(
    "/admin/sweep",
    tags=["admin"],
    response_model=SweepReport,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def sweep(services: ServicesDep, _key: AdminKey) -> SweepReport:
    """Release holds past their time limit and expire grants now (the service also does
    this every ``sweep_interval_s``).  Safe to run from many processes at once."""
    return await run_in_threadpool(services.billing.sweep)


@router.get(
    "/admin/audit",
    tags=["admin"],
    response_model=AuditReport,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def audit(services: ServicesDep, _key: AdminKey) -> AuditReport:
    """Check every ledger invariant; an empty list is a clean ledger."""
    violations = await run_in_threadpool(services.billing.audit)
    return AuditReport(clean=not violations, violations=violations)
