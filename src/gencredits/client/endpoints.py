"""Every endpoint of the service, described once: a function per call that turns the call's
arguments into a :class:`Call` (method, path, query or body, idempotency key) and names the
type its answer is read as.

:class:`~gencredits.client.Client` and :class:`~gencredits.client.AsyncClient` expose these
functions as their methods (same names, same parameters); they differ only in how they send.
The billing calls carry the names, parameters and answer types of
:class:`~gencredits.billing.BillingAPI`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Generic, Literal, TypeVar

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
from gencredits.billing.plan_views import (
    PlanCatalogView,
    PurchaseView,
    SubscriptionView,
    TickReport,
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

__all__ = ["Call", "Query"]

R = TypeVar("R")
#: A query string's values; ``None`` leaves the parameter out.
Query = Mapping[str, str | int | bool | None]


@dataclass(frozen=True, slots=True)
class Call(Generic[R]):
    """One request to make, and how its (successful) JSON answer is read."""

    method: Literal["GET", "POST"]
    path: str
    answer: Callable[[object], R]
    body: object = None
    query: Query = field(default_factory=dict)
    idempotency_key: str | None = None


def _segment(value: str) -> str:
    # Model ids contain "/" (kling/v2-1-pro), which the route accepts as is.
    return urllib.parse.quote(value, safe="/")


def _get(path: str, answer: Callable[[object], R], **query: str | int | bool | None) -> Call[R]:
    return Call("GET", path, answer, query=query)


def _post(
    path: str, answer: Callable[[object], R], body: object = None, key: str | None = None
) -> Call[R]:
    return Call("POST", path, answer, body=body, idempotency_key=key)


def _present(**fields: object) -> dict[str, object]:
    """The fields that are set: an unset optional is left to the service's default."""
    return {k: v for k, v in fields.items() if v is not None}


def _instant(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _priced(
    model: str, params: Mapping[str, object] | None, generations: int, catalog: str | None
) -> dict[str, object]:
    return {"model": model, "params": dict(params or {}), "generations": generations} | _present(
        catalog=catalog
    )


class _Subscriptions(BaseModel):
    items: list[SubscriptionView]


def _subscription_items(body: object) -> list[SubscriptionView]:
    return _Subscriptions.model_validate(body).items


class _Audit(BaseModel):
    clean: bool
    violations: list[Violation]


def _violations(body: object) -> list[Violation]:
    return _Audit.model_validate(body).violations


# --- health and catalogs --------------------------------------------------------------------


def health() -> Call[HealthPublic]:
    return _get("/healthz", HealthPublic.model_validate)


def ready() -> Call[HealthPublic]:
    return _get("/readyz", HealthPublic.model_validate)


def catalogs() -> Call[CatalogList]:
    return _get("/v1/catalogs", CatalogList.model_validate)


def catalog(name: str) -> Call[CatalogPublic]:
    return _get(f"/v1/catalogs/{_segment(name)}", CatalogPublic.model_validate)


def models(catalog: str | None = None) -> Call[ModelList]:
    return _get("/v1/models", ModelList.model_validate, catalog=catalog)


def model(model: str, catalog: str | None = None) -> Call[ModelDetail]:
    return _get(f"/v1/models/{_segment(model)}", ModelDetail.model_validate, catalog=catalog)


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
    return _post("/v1/quotes", QuotePublic.model_validate, body)


def compare(
    catalog: str, params: Mapping[str, object] | None = None, *, generations: int = 1
) -> Call[ComparisonPublic]:
    body = {"catalog": catalog, "params": dict(params or {}), "generations": generations}
    return _post("/v1/compare", ComparisonPublic.model_validate, body)


def capacity(
    balance: int,
    model: str,
    params: Mapping[str, object] | None = None,
    *,
    generations: int = 1,
    catalog: str | None = None,
) -> Call[CapacityPublic]:
    body = {"balance": balance, **_priced(model, params, generations, catalog)}
    return _post("/v1/capacity", CapacityPublic.model_validate, body)


def project_quote(
    steps: Sequence[Mapping[str, object]], *, catalog: str | None = None
) -> Call[ProjectQuotePublic]:
    body = {"steps": [dict(s) for s in steps]} | _present(catalog=catalog)
    return _post("/v1/project-quotes", ProjectQuotePublic.model_validate, body)


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
    body = _present(
        id=wallet_id,
        owner_kind=owner_kind,
        overdraft_limit=overdraft_limit,
        hold_ttl_s=hold_ttl_s,
        extra_charge_share=share,
    )
    return _post("/v1/wallets", WalletView.model_validate, body, idempotency_key)


def get_wallet(wallet_id: str) -> Call[WalletView]:
    return _get(f"/v1/wallets/{_segment(wallet_id)}", WalletView.model_validate)


def list_wallets(
    *, cursor: str | None = None, limit: int = 50, order: ListOrder = "asc"
) -> Call[Page[WalletView]]:
    answer = Page[WalletView].model_validate
    return _get("/v1/wallets", answer, cursor=cursor, limit=limit, order=order)


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
    body = _present(
        amount=amount,
        kind=kind,
        priority=priority,
        expires_at=_instant(expires_at),
        effective_at=_instant(effective_at),
        source=source,
    )
    path = f"/v1/wallets/{_segment(wallet_id)}/grants"
    return _post(path, GrantView.model_validate, body, idempotency_key)


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
    path = f"/v1/wallets/{_segment(wallet_id)}/grants"
    answer = Page[GrantView].model_validate
    return _get(
        path,
        answer,
        active=active,
        kind=kind,
        expiring_before=_instant(expiring_before),
        cursor=cursor,
        limit=limit,
    )


def void_grant(grant_id: str, *, idempotency_key: str | None = None) -> Call[GrantView]:
    path = f"/v1/grants/{_segment(grant_id)}/void"
    return _post(path, GrantView.model_validate, None, idempotency_key)


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
) -> Call[JobView]:
    """Hold the quoted credits for a job.  Pass your own ``idempotency_key`` (e.g. your
    generation's id) so that a retry after a crash of YOUR process holds nothing twice."""
    body = _priced(model, params, generations, catalog) | _present(
        submitted_by=submitted_by,
        hold_ttl_s=hold_ttl_s,
        metadata=None if metadata is None else dict(metadata),
    )
    path = f"/v1/wallets/{_segment(wallet_id)}/jobs"
    return _post(path, JobView.model_validate, body, idempotency_key)


def record_free_job(
    wallet_id: str,
    kind: str,
    *,
    submitted_by: str | None = None,
    idempotency_key: str | None = None,
) -> Call[JobView]:
    body = _present(kind=kind, submitted_by=submitted_by)
    path = f"/v1/wallets/{_segment(wallet_id)}/free-jobs"
    return _post(path, JobView.model_validate, body, idempotency_key)


def get_job(job_id: str) -> Call[JobView]:
    return _get(f"/v1/jobs/{_segment(job_id)}", JobView.model_validate)


def list_jobs(
    wallet_id: str,
    *,
    status: int | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    order: ListOrder = "desc",
) -> Call[Page[JobView]]:
    path = f"/v1/wallets/{_segment(wallet_id)}/jobs"
    answer = Page[JobView].model_validate
    query = {"status": status, "state": state, "cursor": cursor, "limit": limit, "order": order}
    return _get(path, answer, **query)


def complete(
    job_id: str,
    *,
    actual_params: Mapping[str, object] | None = None,
    actual_generations: int | None = None,
    idempotency_key: str | None = None,
) -> Call[JobView]:
    """The provider delivered: capture (less when less was made)."""
    body = _present(
        actual_params=None if actual_params is None else dict(actual_params),
        actual_generations=actual_generations,
    )
    path = f"/v1/jobs/{_segment(job_id)}/complete"
    return _post(path, JobView.model_validate, body, idempotency_key)


def fail(
    job_id: str, *, reason: str | None = None, idempotency_key: str | None = None
) -> Call[JobView]:
    """The provider failed: release the hold."""
    path = f"/v1/jobs/{_segment(job_id)}/fail"
    return _post(path, JobView.model_validate, _present(reason=reason), idempotency_key)


def cancel(job_id: str, *, idempotency_key: str | None = None) -> Call[JobView]:
    path = f"/v1/jobs/{_segment(job_id)}/cancel"
    return _post(path, JobView.model_validate, None, idempotency_key)


# --- history and operations -------------------------------------------------------------


def history(
    wallet_id: str, *, cursor: str | None = None, limit: int = 50, order: ListOrder = "desc"
) -> Call[Page[EntryView]]:
    path = f"/v1/wallets/{_segment(wallet_id)}/history"
    answer = Page[EntryView].model_validate
    return _get(path, answer, cursor=cursor, limit=limit, order=order)


def sweep() -> Call[SweepReport]:
    return _post("/v1/admin/sweep", SweepReport.model_validate)


def audit() -> Call[list[Violation]]:
    """Every broken ledger invariant (an empty list: clean).  Needs an admin key."""
    return _get("/v1/admin/audit", _violations)


# --- plans, subscriptions, purchases ----------------------------------------------------------


def plans() -> Call[PlanCatalogView]:
    """The plan catalog with each plan's and pack's price per credit."""
    return _get("/v1/plans", PlanCatalogView.model_validate)


def subscribe(
    wallet_id: str, plan: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionView]:
    path = f"/v1/wallets/{_segment(wallet_id)}/subscriptions"
    return _post(path, SubscriptionView.model_validate, {"plan": plan}, idempotency_key)


def list_subscriptions(wallet_id: str) -> Call[list[SubscriptionView]]:
    return _get(f"/v1/wallets/{_segment(wallet_id)}/subscriptions", _subscription_items)


def get_subscription(subscription_id: str) -> Call[SubscriptionView]:
    return _get(f"/v1/subscriptions/{_segment(subscription_id)}", SubscriptionView.model_validate)


def change_plan(
    subscription_id: str, plan: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionView]:
    path = f"/v1/subscriptions/{_segment(subscription_id)}/plan"
    return _post(path, SubscriptionView.model_validate, {"plan": plan}, idempotency_key)


def _on_subscription(action: str) -> Callable[..., Call[SubscriptionView]]:
    def call(subscription_id: str, *, idempotency_key: str | None = None) -> Call[SubscriptionView]:
        path = f"/v1/subscriptions/{_segment(subscription_id)}/{action}"
        return _post(path, SubscriptionView.model_validate, None, idempotency_key)

    return call


def cancel_subscription(
    subscription_id: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionView]:
    return _on_subscription("cancel")(subscription_id, idempotency_key=idempotency_key)


def resume_subscription(
    subscription_id: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionView]:
    return _on_subscription("resume")(subscription_id, idempotency_key=idempotency_key)


def mark_past_due(
    subscription_id: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionView]:
    return _on_subscription("past-due")(subscription_id, idempotency_key=idempotency_key)


def tick() -> Call[TickReport]:
    """Renew the subscriptions due now.  Needs an admin key."""
    return _post("/v1/admin/tick", TickReport.model_validate)


def purchase(
    wallet_id: str, pack: str, *, purchase_id: str, idempotency_key: str | None = None
) -> Call[PurchaseView]:
    path = f"/v1/wallets/{_segment(wallet_id)}/purchases"
    body = {"pack": pack, "purchase_id": purchase_id}
    return _post(path, PurchaseView.model_validate, body, idempotency_key)


def get_purchase(purchase_id: str) -> Call[PurchaseView]:
    return _get(f"/v1/purchases/{_segment(purchase_id)}", PurchaseView.model_validate)


def refund_purchase(purchase_id: str, *, idempotency_key: str | None = None) -> Call[PurchaseView]:
    path = f"/v1/purchases/{_segment(purchase_id)}/refund"
    return _post(path, PurchaseView.model_validate, None, idempotency_key)


def chargeback_purchase(
    purchase_id: str, *, freeze: bool = True, idempotency_key: str | None = None
) -> Call[PurchaseView]:
    path = f"/v1/purchases/{_segment(purchase_id)}/chargeback"
    return _post(path, PurchaseView.model_validate, {"freeze": freeze}, idempotency_key)


def set_frozen(
    wallet_id: str, reason: str | None, *, idempotency_key: str | None = None
) -> Call[WalletView]:
    """Freeze a wallet or (``None``) lift its freeze.  Needs an admin key."""
    path = f"/v1/wallets/{_segment(wallet_id)}/freeze"
    return _post(path, WalletView.model_validate, {"reason": reason}, idempotency_key)


# --- payment provider events (admin) ---------------------------------------------------


def payment_events(
    *, status: str | None = None, wallet_id: str | None = None, limit: int | None = None
) -> Call[PaymentEventList]:
    """What became of each Stripe webhook event, latest first.  Needs an admin key."""
    answer = PaymentEventList.model_validate
    return _get("/v1/payment-events", answer, status=status, wallet_id=wallet_id, limit=limit)


# --- API keys (admin) -------------------------------------------------------------------


def create_key(name: str, scopes: Sequence[str]) -> Call[KeyCreated]:
    """A new key; ``.key`` is the secret, returned this once."""
    return _post("/v1/keys", KeyCreated.model_validate, {"name": name, "scopes": list(scopes)})


def keys(*, include_revoked: bool = False) -> Call[KeyList]:
    return _get("/v1/keys", KeyList.model_validate, include_revoked=include_revoked or None)


def revoke_key(key_id: str) -> Call[KeyPublic]:
    return _post(f"/v1/keys/{_segment(key_id)}/revoke", KeyPublic.model_validate)
