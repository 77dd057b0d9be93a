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

from gencredits.api.schemas import (
    CapacityPublic,
    CatalogList,
    CatalogPublic,
    ComparisonPublic,
    DeliverReportPublic,
    HealthPublic,
    KeyCreated,
    KeyList,
    KeyPublic,
    ModelDetail,
    ModelList,
    ProjectQuotePublic,
    QuotePublic,
)
from gencredits.billing.alert_ops import AlertsView
from gencredits.billing.team_views import MemberView, TeamView
from gencredits.billing.views import (
    EntryView,
    GrantView,
    JobView,
    Page,
    SweepReport,
    Violation,
    WalletView,
)
from gencredits.billing.webhook_ops import DeliveryView, WebhookView

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


class _Grants(BaseModel):
    items: list[GrantView]


class _Audit(BaseModel):
    clean: bool
    violations: list[Violation]


def _grant_items(body: object) -> list[GrantView]:
    return _Grants.model_validate(body).items


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


def list_wallets(*, cursor: str | None = None, limit: int = 50) -> Call[Page[WalletView]]:
    return _get("/v1/wallets", Page[WalletView].model_validate, cursor=cursor, limit=limit)


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


def list_grants(wallet_id: str) -> Call[list[GrantView]]:
    return _get(f"/v1/wallets/{_segment(wallet_id)}/grants", _grant_items)


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
) -> Call[Page[JobView]]:
    path = f"/v1/wallets/{_segment(wallet_id)}/jobs"
    answer = Page[JobView].model_validate
    return _get(path, answer, status=status, state=state, cursor=cursor, limit=limit)


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


def history(wallet_id: str, *, cursor: str | None = None, limit: int = 50) -> Call[Page[EntryView]]:
    path = f"/v1/wallets/{_segment(wallet_id)}/history"
    return _get(path, Page[EntryView].model_validate, cursor=cursor, limit=limit)


def sweep() -> Call[SweepReport]:
    return _post("/v1/admin/sweep", SweepReport.model_validate)


def audit() -> Call[list[Violation]]:
    """Every broken ledger invariant (an empty list: clean).  Needs an admin key."""
    return _get("/v1/admin/audit", _violations)


# --- teams -----------------------------------------------------------------------------------


def create_team(
    wallet_id: str,
    *,
    anchor_day: int | None = None,
    near_cap_percent: int = 80,
    overdraft_limit: int = 0,
    idempotency_key: str | None = None,
) -> Call[TeamView]:
    """Make a team wallet (created when missing) or change its cycle and alert settings."""
    body = _present(
        id=wallet_id,
        anchor_day=anchor_day,
        near_cap_percent=near_cap_percent,
        overdraft_limit=overdraft_limit,
    )
    return _post("/v1/teams", TeamView.model_validate, body, idempotency_key)


def get_team(wallet_id: str) -> Call[TeamView]:
    return _get(f"/v1/teams/{_segment(wallet_id)}", TeamView.model_validate)


def set_member(
    wallet_id: str,
    member_id: str,
    *,
    cap: int | None = None,
    seat_credits: int | None = None,
    idempotency_key: str | None = None,
) -> Call[MemberView]:
    """Add a member (or change their cap and seat allowance; a removed member comes back)."""
    body = _present(member_id=member_id, cap=cap, seat_credits=seat_credits)
    path = f"/v1/teams/{_segment(wallet_id)}/members"
    return _post(path, MemberView.model_validate, body, idempotency_key)


def remove_member(
    wallet_id: str, member_id: str, *, idempotency_key: str | None = None
) -> Call[MemberView]:
    path = f"/v1/teams/{_segment(wallet_id)}/members/{_segment(member_id)}/remove"
    return _post(path, MemberView.model_validate, None, idempotency_key)


# --- alerts and webhooks -------------------------------------------------------------------


def set_alerts(
    wallet_id: str,
    *,
    below: Sequence[int] = (),
    depleted: bool = False,
    topup_below: int | None = None,
    topup_amount: int | None = None,
    expiring_days: int | None = None,
    idempotency_key: str | None = None,
) -> Call[AlertsView]:
    """Set a wallet's alert rules (levels, depleted, automatic top-up request)."""
    body = {"below": list(below), "depleted": depleted} | _present(
        topup_below=topup_below, topup_amount=topup_amount, expiring_days=expiring_days
    )
    path = f"/v1/wallets/{_segment(wallet_id)}/alerts"
    return _post(path, AlertsView.model_validate, body, idempotency_key)


def get_alerts(wallet_id: str) -> Call[AlertsView]:
    return _get(f"/v1/wallets/{_segment(wallet_id)}/alerts", AlertsView.model_validate)


class _Webhooks(BaseModel):
    items: list[WebhookView]


def add_webhook(
    url: str,
    secret: str,
    *,
    wallet_id: str | None = None,
    types: Sequence[str] = ("*",),
    endpoint_id: str | None = None,
) -> Call[WebhookView]:
    """Register a webhook endpoint (admin key)."""
    body = {"url": url, "secret": secret, "types": list(types)} | _present(
        wallet_id=wallet_id, id=endpoint_id
    )
    return _post("/v1/webhooks", WebhookView.model_validate, body)


def list_webhooks() -> Call[list[WebhookView]]:
    return _get("/v1/webhooks", lambda body: _Webhooks.model_validate(body).items)


def enable_webhook(endpoint_id: str) -> Call[WebhookView]:
    return _post(f"/v1/webhooks/{_segment(endpoint_id)}/enable", WebhookView.model_validate)


def webhook_deliveries(
    endpoint_id: str | None = None, *, cursor: str | None = None, limit: int = 50
) -> Call[Page[DeliveryView]]:
    answer = Page[DeliveryView].model_validate
    path = "/v1/webhooks/deliveries"
    return _get(path, answer, endpoint_id=endpoint_id, cursor=cursor, limit=limit)


def redeliver(endpoint_id: str, event_id: str) -> Call[DeliveryView]:
    path = f"/v1/webhooks/{_segment(endpoint_id)}/deliveries/{_segment(event_id)}/redeliver"
    return _post(path, DeliveryView.model_validate)


def deliver() -> Call[DeliverReportPublic]:
    """Run the service's webhook deliverer once (admin key)."""
    return _post("/v1/admin/deliver", DeliverReportPublic.model_validate)


# --- API keys (admin) -------------------------------------------------------------------


def create_key(name: str, scopes: Sequence[str]) -> Call[KeyCreated]:
    """A new key; ``.key`` is the secret, returned this once."""
    return _post("/v1/keys", KeyCreated.model_validate, {"name": name, "scopes": list(scopes)})


def keys(*, include_revoked: bool = False) -> Call[KeyList]:
    return _get("/v1/keys", KeyList.model_validate, include_revoked=include_revoked or None)


def revoke_key(key_id: str) -> Call[KeyPublic]:
    return _post(f"/v1/keys/{_segment(key_id)}/revoke", KeyPublic.model_validate)
