"""Every endpoint of the service, described once: a function per call that turns the call's
arguments into a :class:`Call` (method, path, query or body, idempotency key) and names the
type its answer is read as.

:class:`~gencredits.client.Client` and :class:`~gencredits.client.AsyncClient` expose these
functions as their methods (same names, same parameters); they differ only in how they send.
The billing calls carry the names, parameters and answer types of
:class:`~gencredits.billing.BillingAPI`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from gencredits.api.payments import PaymentEventList
from gencredits.api.schemas import (
    CapacityPublic,
    CatalogList,
    CatalogPublic,
    ComparisonPublic,
    HealthPublic,
    KeyCreated,
    KeyList,
    KeyPublic,
    ModelDetail,
    ModelList,
    ProjectQuotePublic,
    QuotePublic,
)
from gencredits.billing.views import (
    EntryView,
    GrantView,
    JobView,
    ListOrder,
    Page,
    SweepReport,
    Violation,
    WalletView,
)
from gencredits.client.calls import Call, Query, get, instant, post, present, segment

__all__ = ["Call", "Query"]


def _priced(
    model: str, params: Mapping[str, object] | None, generations: int, catalog: str | None
) -> dict[str, object]:
    return {"model": model, "params": dict(params or {}), "generations": generations} | present(
        catalog=catalog
    )


class _Audit(BaseModel):
    clean: bool
    violations: list[Violation]


def _violations(body: object) -> list[Violation]:
    return _Audit.model_validate(body).violations


# --- health and catalogs --------------------------------------------------------------------


def health() -> Call[HealthPublic]:
    return get("/healthz", HealthPublic.model_validate)


def ready() -> Call[HealthPublic]:
    return get("/readyz", HealthPublic.model_validate)


def catalogs() -> Call[CatalogList]:
    return get("/v1/catalogs", CatalogList.model_validate)


def catalog(name: str) -> Call[CatalogPublic]:
    return get(f"/v1/catalogs/{segment(name)}", CatalogPublic.model_validate)


def models(catalog: str | None = None) -> Call[ModelList]:
    return get("/v1/models", ModelList.model_validate, catalog=catalog)


def model(model: str, catalog: str | None = None) -> Call[ModelDetail]:
    return get(f"/v1/models/{segment(model)}", ModelDetail.model_validate, catalog=catalog)


# --- pricing ----------------------------------------------------------------------------------


def quote(
    model: str,
    params: Mapping[str, object] | None = None,
    *,
    generations: int = 1,
    catalog: str | None = None,
) -> Call[QuotePublic]:
    """The exact credits for ``model`` with these settings (nothing is held)."""
    body = _priced(model, params, generations, catalog)
    return post("/v1/quotes", QuotePublic.model_validate, body)


def compare(
    catalog: str, params: Mapping[str, object] | None = None, *, generations: int = 1
) -> Call[ComparisonPublic]:
    body = {"catalog": catalog, "params": dict(params or {}), "generations": generations}
    return post("/v1/compare", ComparisonPublic.model_validate, body)


def capacity(
    balance: int,
    model: str,
    params: Mapping[str, object] | None = None,
    *,
    generations: int = 1,
    catalog: str | None = None,
) -> Call[CapacityPublic]:
    body = {"balance": balance, **_priced(model, params, generations, catalog)}
    return post("/v1/capacity", CapacityPublic.model_validate, body)


def project_quote(
    steps: Sequence[Mapping[str, object]], *, catalog: str | None = None
) -> Call[ProjectQuotePublic]:
    body = {"steps": [dict(s) for s in steps]} | present(catalog=catalog)
    return post("/v1/project-quotes", ProjectQuotePublic.model_validate, body)


# --- wallets and grants -------------------------------------------------------------------


def create_wallet(
    wallet_id: str,
    *,
    owner_kind: str = "user",
    overdraft_limit: int = 0,
    hold_ttl_s: int | None = None,
    extra_charge_share: Decimal | int | None = None,
    idempotency_key: str | None = None,
) -> Call[WalletView]:
    """Create a wallet (again with the same settings: answered as ``replayed``, no change).
    ``extra_charge_share`` is sent as decimal text, so it never passes through a float."""
    share = None if extra_charge_share is None else str(extra_charge_share)
    body = present(
        id=wallet_id,
        owner_kind=owner_kind,
        overdraft_limit=overdraft_limit,
        hold_ttl_s=hold_ttl_s,
        extra_charge_share=share,
    )
    return post("/v1/wallets", WalletView.model_validate, body, idempotency_key)


def get_wallet(wallet_id: str) -> Call[WalletView]:
    return get(f"/v1/wallets/{segment(wallet_id)}", WalletView.model_validate)


def list_wallets(
    *, cursor: str | None = None, limit: int = 50, order: ListOrder = "asc"
) -> Call[Page[WalletView]]:
    answer = Page[WalletView].model_validate
    return get("/v1/wallets", answer, cursor=cursor, limit=limit, order=order)


def grant(
    wallet_id: str,
    amount: int,
    *,
    kind: str,
    priority: int | None = None,
    expires_at: datetime | None = None,
    effective_at: datetime | None = None,
    source: str | None = None,
    idempotency_key: str | None = None,
) -> Call[GrantView]:
    """Add ``amount`` credits to a wallet as a grant of ``kind``."""
    body = present(
        amount=amount,
        kind=kind,
        priority=priority,
        expires_at=instant(expires_at),
        effective_at=instant(effective_at),
        source=source,
    )
    path = f"/v1/wallets/{segment(wallet_id)}/grants"
    return post(path, GrantView.model_validate, body, idempotency_key)


def list_grants(
    wallet_id: str,
    *,
    active: bool | None = None,
    kind: str | None = None,
    expiring_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Call[Page[GrantView]]:
    """The wallet's grants, newest first, a page at a time."""
    path = f"/v1/wallets/{segment(wallet_id)}/grants"
    answer = Page[GrantView].model_validate
    return get(
        path,
        answer,
        active=active,
        kind=kind,
        expiring_before=instant(expiring_before),
        cursor=cursor,
        limit=limit,
    )


def void_grant(grant_id: str, *, idempotency_key: str | None = None) -> Call[GrantView]:
    path = f"/v1/grants/{segment(grant_id)}/void"
    return post(path, GrantView.model_validate, None, idempotency_key)


# --- jobs ---------------------------------------------------------------------------------


def submit(
    wallet_id: str,
    model: str,
    params: Mapping[str, object] | None = None,
    *,
    generations: int = 1,
    catalog: str | None = None,
    submitted_by: str | None = None,
    hold_ttl_s: int | None = None,
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    quote_hash: str | None = None,
) -> Call[JobView]:
    """Hold the quoted credits for a job.  Pass your own ``idempotency_key`` (e.g. your
    generation's id) so that a retry after a crash of YOUR process holds nothing twice;
    ``quote_hash``, the ``catalog_hash`` of the quote you showed (honoured or refused
    ``quote_expired`` across a price change)."""
    body = _priced(model, params, generations, catalog) | present(
        submitted_by=submitted_by,
        hold_ttl_s=hold_ttl_s,
        metadata=None if metadata is None else dict(metadata),
        quote_hash=quote_hash,
    )
    path = f"/v1/wallets/{segment(wallet_id)}/jobs"
    return post(path, JobView.model_validate, body, idempotency_key)


def record_free_job(
    wallet_id: str,
    kind: str,
    *,
    submitted_by: str | None = None,
    idempotency_key: str | None = None,
) -> Call[JobView]:
    body = present(kind=kind, submitted_by=submitted_by)
    path = f"/v1/wallets/{segment(wallet_id)}/free-jobs"
    return post(path, JobView.model_validate, body, idempotency_key)


def get_job(job_id: str) -> Call[JobView]:
    return get(f"/v1/jobs/{segment(job_id)}", JobView.model_validate)


def list_jobs(
    wallet_id: str,
    *,
    status: int | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    order: ListOrder = "desc",
) -> Call[Page[JobView]]:
    path = f"/v1/wallets/{segment(wallet_id)}/jobs"
    answer = Page[JobView].model_validate
    query = {"status": status, "state": state, "cursor": cursor, "limit": limit, "order": order}
    return get(path, answer, **query)


def complete(
    job_id: str,
    *,
    actual_params: Mapping[str, object] | None = None,
    actual_generations: int | None = None,
    idempotency_key: str | None = None,
) -> Call[JobView]:
    """The provider delivered: capture (less when less was made)."""
    body = present(
        actual_params=None if actual_params is None else dict(actual_params),
        actual_generations=actual_generations,
    )
    path = f"/v1/jobs/{segment(job_id)}/complete"
    return post(path, JobView.model_validate, body, idempotency_key)


def fail(
    job_id: str, *, reason: str | None = None, idempotency_key: str | None = None
) -> Call[JobView]:
    """The provider failed: release the hold."""
    path = f"/v1/jobs/{segment(job_id)}/fail"
    return post(path, JobView.model_validate, present(reason=reason), idempotency_key)


def cancel(job_id: str, *, idempotency_key: str | None = None) -> Call[JobView]:
    path = f"/v1/jobs/{segment(job_id)}/cancel"
    return post(path, JobView.model_validate, None, idempotency_key)


# --- history and operations -------------------------------------------------------------


def history(
    wallet_id: str, *, cursor: str | None = None, limit: int = 50, order: ListOrder = "desc"
) -> Call[Page[EntryView]]:
    path = f"/v1/wallets/{segment(wallet_id)}/history"
    answer = Page[EntryView].model_validate
    return get(path, answer, cursor=cursor, limit=limit, order=order)


def sweep() -> Call[SweepReport]:
    return post("/v1/admin/sweep", SweepReport.model_validate)


def audit() -> Call[list[Violation]]:
    """Every broken ledger invariant (an empty list: clean).  Needs an admin key."""
    return get("/v1/admin/audit", _violations)


# --- payment provider events (admin) ---------------------------------------------------


def payment_events(
    *, status: str | None = None, wallet_id: str | None = None, limit: int | None = None
) -> Call[PaymentEventList]:
    """What became of each Stripe webhook event, latest first.  Needs an admin key."""
    answer = PaymentEventList.model_validate
    return get("/v1/payment-events", answer, status=status, wallet_id=wallet_id, limit=limit)


# --- API keys (admin) -------------------------------------------------------------------


def create_key(name: str, scopes: Sequence[str]) -> Call[KeyCreated]:
    """A new key; ``.key`` is the secret, returned this once."""
    return post("/v1/keys", KeyCreated.model_validate, {"name": name, "scopes": list(scopes)})


def keys(*, include_revoked: bool = False) -> Call[KeyList]:
    return get("/v1/keys", KeyList.model_validate, include_revoked=include_revoked or None)


def revoke_key(key_id: str) -> Call[KeyPublic]:
    return post(f"/v1/keys/{segment(key_id)}/revoke", KeyPublic.model_validate)
