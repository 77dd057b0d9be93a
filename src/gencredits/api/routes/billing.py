"""Wallets, grants, jobs, ledger history, provider callbacks, sweep and audit.

The billing service is synchronous (SQLAlchemy), so these routes are plain ``def``:
FastAPI runs them in its threadpool and the event loop never blocks.

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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from gencredits.api.auth import SCOPE_EXTRA, AdminKey, BillingKey, ReadKey
from gencredits.api.errors import error_responses
from gencredits.api.schemas import (
    AuditPublic,
    CallbackCreate,
    EntryPage,
    FreeJobCreate,
    GrantCreate,
    GrantList,
    GrantPublic,
    JobComplete,
    JobCreate,
    JobFail,
    JobPage,
    JobPublic,
    SweepPublic,
    WalletCreate,
    WalletPage,
    WalletPublic,
)
from gencredits.api.state import Services, ServicesDep
from gencredits.errors import AuthenticationFailed, InvalidRequest, Unavailable

router = APIRouter(prefix="/v1")

IdempotencyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="The caller's key for this operation; send the same one on every retry.",
    ),
]
OptionalIdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]
#: Ids in paths: printable, bounded (PostgreSQL cannot even compare a text with a NUL in it).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
WalletId = Annotated[str, Path(max_length=200, pattern=PRINTABLE)]
JobId = Annotated[str, Path(max_length=64, pattern=PRINTABLE)]
GrantId = Annotated[str, Path(max_length=64, pattern=PRINTABLE)]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")]
Limit = Annotated[int, Query(ge=1, le=500)]

# 503: the database (or, on a key-cache miss, the key lookup) is unreachable.
READ = error_responses(401, 403, 404, 422, 503)
WRITE = error_responses(401, 403, 404, 409, 422, 503)
SUBMIT = error_responses(401, 402, 403, 404, 409, 422, 503)
CALLBACK_SIGNATURE_PREFIX = "sha256="
CALLBACK_EXTRA: dict[str, object] = {
    "x-scope": "signature",
    "security": [],
}


def _billing(services: Services) -> Any:
    if services.billing is None:
        raise Unavailable("billing is not configured on this service", details={})
    return services.billing


def _writer(services: Services) -> Any:
    _billing(services)
    return services.writer


def _check_ttl(services: Services, hold_ttl_s: int | None) -> None:
    limit = services.settings.hold_ttl_s_max
    if hold_ttl_s is not None and hold_ttl_s > limit:
        raise InvalidRequest.for_field("hold_ttl_s", hold_ttl_s, f"1 to {limit} seconds")


def _json(view: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(view.to_dict(), status_code=status)


# --- wallets -----------------------------------------------------------------------------


@router.post(
    "/wallets",
    tags=["wallets"],
    status_code=201,
    response_model=WalletPublic,
    responses=error_responses(401, 403, 409, 422, 503),
    openapi_extra=SCOPE_EXTRA["billing"],
)
def create_wallet(
    body: WalletCreate,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: OptionalIdempotencyHeader = None,
) -> JSONResponse:
    """Create a wallet (a user's or a team's).  Creating it again with the same settings
    returns it; with different settings is a ``wallet_exists`` conflict."""
    _check_ttl(services, body.hold_ttl_s)
    view = _writer(services).create_wallet(
        body.id,
        owner_kind=body.owner_kind,
        overdraft_limit=body.overdraft_limit,
        hold_ttl_s=body.hold_ttl_s,
        idempotency_key=idempotency_key,
    )
    return _json(view, 201)


@router.get(
    "/wallets",
    tags=["wallets"],
    response_model=WalletPage,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["read"],
)
def list_wallets(
    services: ServicesDep, _key: ReadKey, cursor: Cursor = None, limit: Limit = 50
) -> JSONResponse:
    return _json(_billing(services).list_wallets(cursor=cursor, limit=limit))


@router.get(
    "/wallets/{wallet_id}",
    tags=["wallets"],
    response_model=WalletPublic,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["read"],
)
def get_wallet(wallet_id: WalletId, services: ServicesDep, _key: ReadKey) -> JSONResponse:
    """Available, held and balance, and every grant with its kind, remaining and expiry."""
    return _json(_billing(services).get_wallet(wallet_id))


# --- grants ------------------------------------------------------------------------------


@router.post(
    "/wallets/{wallet_id}/grants",
    tags=["grants"],
    status_code=201,
    response_model=GrantPublic,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["billing"],
)
def create_grant(
    wallet_id: WalletId,
    body: GrantCreate,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> JSONResponse:
    """Add credits to a wallet: a monthly allowance, a purchased pack, a bonus..."""
    view = _writer(services).grant(
        wallet_id,
        body.amount,
        kind=body.kind,
        priority=body.priority,
        expires_at=body.expires_at,
        effective_at=body.effective_at,
        source=body.source,
        idempotency_key=idempotency_key,
    )
    return _json(view, 201)


@router.get(
    "/wallets/{wallet_id}/grants",
    tags=["grants"],
    response_model=GrantList,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["read"],
)
def list_grants(wallet_id: WalletId, services: ServicesDep, _key: ReadKey) -> JSONResponse:
    grants = _billing(services).list_grants(wallet_id)
    return JSONResponse({"items": [g.to_dict() for g in grants]})


@router.post(
    "/grants/{grant_id}/void",
    tags=["grants"],
    response_model=GrantPublic,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["billing"],
)
def void_grant(
    grant_id: GrantId, services: ServicesDep, _key: BillingKey, idempotency_key: IdempotencyHeader
) -> JSONResponse:
    """Take back what is left of a grant (a refunded pack); held credits stay held."""
    return _json(_writer(services).void_grant(grant_id, idempotency_key=idempotency_key))


# --- jobs --------------------------------------------------------------------------------


@router.post(
    "/wallets/{wallet_id}/jobs",
    tags=["jobs"],
    status_code=201,
    response_model=JobPublic,
    responses=SUBMIT,
    openapi_extra=SCOPE_EXTRA["billing"],
)
def submit_job(
    wallet_id: WalletId,
    body: JobCreate,
    services: ServicesDep,
    key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> JSONResponse:
    """Quote the request and hold its total on the wallet: a pending job (status 0) whose
    ``creditsUsed`` is the amount taken.  402 with required, available and shortfall when
    the wallet cannot cover it (nothing recorded)."""
    _check_ttl(services, body.hold_ttl_s)
    view = _writer(services).submit(
        wallet_id,
        body.model,
        body.params,
        generations=body.generations,
        catalog=body.catalog,
        submitted_by=body.submitted_by or key.id,
        idempotency_key=idempotency_key,
        hold_ttl_s=body.hold_ttl_s,
        metadata=body.metadata,
    )
    return _json(view, 201)


@router.post(
    "/wallets/{wallet_id}/free-jobs",
    tags=["jobs"],
    status_code=201,
    response_model=JobPublic,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["billing"],
)
def record_free_job(
    wallet_id: WalletId,
    body: FreeJobCreate,
    services: ServicesDep,
    key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> JSONResponse:
    """Record zero-cost usage (scheduling, publishing, voiceover) so it shows in usage."""
    view = _writer(services).record_free_job(
        wallet_id,
        body.kind,
        submitted_by=body.submitted_by or key.id,
        idempotency_key=idempotency_key,
    )
    return _json(view, 201)


@router.get(
    "/wallets/{wallet_id}/jobs",
    tags=["jobs"],
    response_model=JobPage,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["read"],
)
def list_jobs(
    wallet_id: WalletId,
    services: ServicesDep,
    _key: ReadKey,
    status: Annotated[int | None, Query(ge=0, le=2, description="0, 1 or 2")] = None,
    state: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """The wallet's jobs, oldest first, optionally by numbered status or state name."""
    page = _billing(services).list_jobs(
        wallet_id, status=status, state=state, cursor=cursor, limit=limit
    )
    return _json(page)


@router.get(
    "/jobs/{job_id}",
    tags=["jobs"],
    response_model=JobPublic,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["read"],
)
def get_job(job_id: JobId, services: ServicesDep, _key: ReadKey) -> JSONResponse:
    return _json(_billing(services).get_job(job_id))


@router.post(
    "/jobs/{job_id}/complete",
    tags=["jobs"],
    response_model=JobPublic,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["billing"],
)
def complete_job(
    job_id: JobId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
    body: JobComplete | None = None,
) -> JSONResponse:
    """The generation succeeded (status 1): capture the hold, priced on the submission's
    quote for what was actually made; any rest is released."""
    body = body or JobComplete()
    view = _writer(services).complete(
        job_id,
        actual_params=body.actual_params,
        actual_generations=body.actual_generations,
        idempotency_key=idempotency_key,
    )
    return _json(view)


@router.post(
    "/jobs/{job_id}/fail",
    tags=["jobs"],
    response_model=JobPublic,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["billing"],
)
def fail_job(
    job_id: JobId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
    body: JobFail | None = None,
) -> JSONResponse:
    """The generation failed (status 2): the whole hold goes back to its grants."""
    reason = None if body is None else body.reason
    view = _writer(services).fail(job_id, reason=reason, idempotency_key=idempotency_key)
    return _json(view)


@router.post(
    "/jobs/{job_id}/cancel",
    tags=["jobs"],
    response_model=JobPublic,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["billing"],
)
def cancel_job(
    job_id: JobId, services: ServicesDep, _key: BillingKey, idempotency_key: IdempotencyHeader
) -> JSONResponse:
    """Cancel before completion: released like a failure (status 2)."""
    return _json(_writer(services).cancel(job_id, idempotency_key=idempotency_key))


# --- ledger ------------------------------------------------------------------------------


@router.get(
    "/wallets/{wallet_id}/history",
    tags=["ledger"],
    response_model=EntryPage,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["read"],
)
def wallet_history(
    wallet_id: WalletId,
    services: ServicesDep,
    _key: ReadKey,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSONResponse:
    """The wallet's ledger transactions, newest first, each with its reason and postings."""
    return _json(_billing(services).history(wallet_id, cursor=cursor, limit=limit))


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
    response_model=JobPublic,
    responses=error_responses(401, 404, 409, 422, 503),
    openapi_extra=CALLBACK_EXTRA,
    dependencies=[Depends(verify_signature)],
)
def provider_callback(body: CallbackCreate, services: ServicesDep) -> JSONResponse:
    """A generation worker or provider reports a job's outcome.  Authenticated by its
    HMAC signature (not an API key); ``event_id`` is the idempotency key, so a replayed
    or duplicated report is answered with the job and changes nothing."""
    billing = _writer(services)
    key = f"callback:{body.event_id}"
    if body.outcome == "succeeded":
        view = billing.complete(
            body.job_id,
            actual_params=body.actual_params,
            actual_generations=body.actual_generations,
            idempotency_key=key,
        )
    else:
        view = billing.fail(body.job_id, reason=body.reason, idempotency_key=key)
    return _json(view)


# --- operations --------------------------------------------------------------------------


@router.post(
    "/admin/sweep",
    tags=["admin"],
    response_model=SweepPublic,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
def sweep(services: ServicesDep, _key: AdminKey) -> JSONResponse:
    """Release holds past their time limit and expire grants now (the service also does
    this every ``sweep_interval_s``).  Safe to run from many processes at once."""
    return _json(_writer(services).sweep())


@router.get(
    "/admin/audit",
    tags=["admin"],
    response_model=AuditPublic,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
def audit(services: ServicesDep, _key: AdminKey) -> JSONResponse:
    """Check every ledger invariant; an empty list is a clean ledger."""
    violations = _billing(services).audit()
    return JSONResponse({"clean": not violations, "violations": [v.to_dict() for v in violations]})
