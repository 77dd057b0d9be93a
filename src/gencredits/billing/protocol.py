"""``BillingAPI``: the one typed surface of billing, embedded or remote.

:class:`~gencredits.billing.Billing` (in-process, on a store) and
:class:`~gencredits.client.Client` (the HTTP service) both implement it, and mypy checks
both against it (each module ends with a typed assignment under ``TYPE_CHECKING``), so code
written against one runs unchanged against the other: the CLI's remote mode is the client
itself, with no adapter.

Keys: the embedded service needs the caller's ``idempotency_key`` on every call that moves
credits; the client makes one per call when none is given (and sends the same one on each
retry), which the protocol allows (a wider parameter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypedDict, Unpack

from .alert_ops import AlertsView
from .plan_views import PlanCatalogView, PurchaseView, SubscriptionView, TickReport
from .team_views import MemberView, TeamView
from .views import (
    EntryView,
    GrantView,
    JobView,
    ListOrder,
    Page,
    SweepReport,
    Violation,
    WalletView,
)
from .webhook_ops import DeliveryView, WebhookView

__all__ = ["BillingAPI", "SubmitOptions"]


class SubmitOptions(TypedDict, total=False):
    """The optional keywords of :meth:`BillingAPI.submit`, declared once for the protocol.

    An implementation writes them out as its own keyword parameters with their defaults
    (``generations=1``, the others ``None``), which is what ``help()`` shows; mypy checks
    each one against this list, names and types."""

    generations: int
    catalog: str | None
    submitted_by: str | None
    hold_ttl_s: int | None
    metadata: Mapping[str, str] | None
    quote_hash: str | None


class BillingAPI(Protocol):
    # --- wallets and grants ---------------------------------------------------------------
    def create_wallet(
        self,
        wallet_id: str,
        *,
        owner_kind: str = "user",
        overdraft_limit: int = 0,
        hold_ttl_s: int | None = None,
        extra_charge_share: Decimal | int | None = None,
        idempotency_key: str | None = None,
    ) -> WalletView: ...

    def get_wallet(self, wallet_id: str) -> WalletView: ...

    def list_wallets(
        self, *, cursor: str | None = None, limit: int = 50, order: ListOrder = "asc"
    ) -> Page[WalletView]: ...

    def grant(
        self,
        wallet_id: str,
        amount: int,
        *,
        kind: str,
        priority: int | None = None,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        source: str | None = None,
        idempotency_key: str,
    ) -> GrantView: ...

    def void_grant(self, grant_id: str, *, idempotency_key: str) -> GrantView: ...

    def list_grants(
        self,
        wallet_id: str,
        *,
        active: bool | None = None,
        kind: str | None = None,
        expiring_before: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[GrantView]: ...

    # --- jobs -----------------------------------------------------------------------------
    def submit(
        self,
        wallet_id: str,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        idempotency_key: str,
        **options: Unpack[SubmitOptions],
    ) -> JobView: ...

    def record_free_job(
        self,
        wallet_id: str,
        kind: str,
        *,
        submitted_by: str | None = None,
        idempotency_key: str,
    ) -> JobView: ...

    def complete(
        self,
        job_id: str,
        *,
        actual_params: Mapping[str, object] | None = None,
        actual_generations: int | None = None,
        idempotency_key: str,
    ) -> JobView: ...

    def fail(self, job_id: str, *, reason: str | None = None, idempotency_key: str) -> JobView: ...

    def cancel(self, job_id: str, *, idempotency_key: str) -> JobView: ...

    def get_job(self, job_id: str) -> JobView: ...

    def list_jobs(
        self,
        wallet_id: str,
        *,
        status: int | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        order: ListOrder = "desc",
    ) -> Page[JobView]: ...

    # --- history, operations ----------------------------------------------------------------
    def history(
        self,
        wallet_id: str,
        *,
        cursor: str | None = None,
        limit: int = 50,
        order: ListOrder = "desc",
    ) -> Page[EntryView]: ...

    def sweep(self) -> SweepReport: ...

    def audit(self) -> list[Violation]: ...

    # --- plans, subscriptions, purchases -----------------------------------------------------
    def plans(self) -> PlanCatalogView: ...
    def subscribe(self, wallet_id: str, plan: str, *, idempotency_key: str) -> SubscriptionView: ...
    def list_subscriptions(self, wallet_id: str) -> list[SubscriptionView]: ...
    def get_subscription(self, subscription_id: str) -> SubscriptionView: ...
    def change_plan(
        self, subscription_id: str, plan: str, *, idempotency_key: str
    ) -> SubscriptionView: ...
    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionView: ...
    def resume_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionView: ...
    def mark_past_due(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionView: ...
    def tick(self) -> TickReport: ...
    def purchase(
        self, wallet_id: str, pack: str, *, purchase_id: str, idempotency_key: str
    ) -> PurchaseView: ...
    def get_purchase(self, purchase_id: str) -> PurchaseView: ...
    def refund_purchase(
        self,
        purchase_id: str,
        *,
        amount: Decimal | None = None,
        of: Decimal | None = None,
        idempotency_key: str,
    ) -> PurchaseView: ...
    def chargeback_purchase(
        self, purchase_id: str, *, freeze: bool = True, idempotency_key: str
    ) -> PurchaseView: ...
    def set_frozen(
        self, wallet_id: str, reason: str | None, *, idempotency_key: str
    ) -> WalletView: ...
    # --- teams ---------------------------------------------------------------------------
    def create_team(
        self,
        wallet_id: str,
        *,
        anchor_day: int | None = None,
        near_cap_percent: int = 80,
        overdraft_limit: int = 0,
        idempotency_key: str | None = None,
    ) -> TeamView: ...

    def get_team(self, wallet_id: str) -> TeamView: ...

    def set_member(
        self,
        wallet_id: str,
        member_id: str,
        *,
        cap: int | None = None,
        seat_credits: int | None = None,
        idempotency_key: str | None = None,
    ) -> MemberView: ...

    def remove_member(
        self, wallet_id: str, member_id: str, *, idempotency_key: str | None = None
    ) -> MemberView: ...

    # --- alerts and webhooks ------------------------------------------------------------
    def set_alerts(
        self,
        wallet_id: str,
        *,
        below: Sequence[int] = (),
        depleted: bool = False,
        topup_below: int | None = None,
        topup_amount: int | None = None,
        expiring_days: int | None = None,
        idempotency_key: str | None = None,
    ) -> AlertsView: ...

    def get_alerts(self, wallet_id: str) -> AlertsView: ...

    def add_webhook(
        self,
        url: str,
        secret: str,
        *,
        wallet_id: str | None = None,
        types: Sequence[str] = ("*",),
        endpoint_id: str | None = None,
    ) -> WebhookView: ...

    def list_webhooks(self) -> list[WebhookView]: ...

    def enable_webhook(self, endpoint_id: str) -> WebhookView: ...

    def webhook_deliveries(
        self, endpoint_id: str | None = None, *, cursor: str | None = None, limit: int = 50
    ) -> Page[DeliveryView]: ...

    def redeliver(self, endpoint_id: str, event_id: str) -> DeliveryView: ...

    def close(self) -> None: ...
