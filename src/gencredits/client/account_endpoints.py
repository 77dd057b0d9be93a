"""The endpoints of where credits come from and who is told: plans, subscriptions, pack
purchases, freezes, teams, alerts and outbound webhooks; described once, as in
:mod:`.endpoints`, and exposed by both clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from pydantic import BaseModel

from gencredits.api.schemas import DeliverReportPublic
from gencredits.billing.alert_ops import AlertsView
from gencredits.billing.plan_views import (
    PlanCatalogView,
    PurchaseView,
    SubscriptionView,
    TickReport,
)
from gencredits.billing.team_views import MemberView, TeamView
from gencredits.billing.views import Page, WalletView
from gencredits.billing.webhook_ops import DeliveryView, WebhookView
from gencredits.client.calls import Call, get, post, present, segment


class _Subscriptions(BaseModel):
    items: list[SubscriptionView]


def _subscription_items(body: object) -> list[SubscriptionView]:
    return _Subscriptions.model_validate(body).items


# --- plans, subscriptions, purchases ----------------------------------------------------------


def plans() -> Call[PlanCatalogView]:
    """The plan catalog with each plan's and pack's price per credit."""
    return get("/v1/plans", PlanCatalogView.model_validate)


def subscribe(
    wallet_id: str, plan: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionView]:
    path = f"/v1/wallets/{segment(wallet_id)}/subscriptions"
    return post(path, SubscriptionView.model_validate, {"plan": plan}, idempotency_key)


def list_subscriptions(wallet_id: str) -> Call[list[SubscriptionView]]:
    return get(f"/v1/wallets/{segment(wallet_id)}/subscriptions", _subscription_items)


def get_subscription(subscription_id: str) -> Call[SubscriptionView]:
    return get(f"/v1/subscriptions/{segment(subscription_id)}", SubscriptionView.model_validate)


def change_plan(
    subscription_id: str, plan: str, *, idempotency_key: str | None = None
) -> Call[SubscriptionView]:
    path = f"/v1/subscriptions/{segment(subscription_id)}/plan"
    return post(path, SubscriptionView.model_validate, {"plan": plan}, idempotency_key)


def _on_subscription(action: str) -> Callable[..., Call[SubscriptionView]]:
    def call(subscription_id: str, *, idempotency_key: str | None = None) -> Call[SubscriptionView]:
        path = f"/v1/subscriptions/{segment(subscription_id)}/{action}"
        return post(path, SubscriptionView.model_validate, None, idempotency_key)

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
    return post("/v1/admin/tick", TickReport.model_validate)


def purchase(
    wallet_id: str, pack: str, *, purchase_id: str, idempotency_key: str | None = None
) -> Call[PurchaseView]:
    path = f"/v1/wallets/{segment(wallet_id)}/purchases"
    body = {"pack": pack, "purchase_id": purchase_id}
    return post(path, PurchaseView.model_validate, body, idempotency_key)


def get_purchase(purchase_id: str) -> Call[PurchaseView]:
    return get(f"/v1/purchases/{segment(purchase_id)}", PurchaseView.model_validate)


def refund_purchase(
    purchase_id: str,
    *,
    amount: Decimal | None = None,
    of: Decimal | None = None,
    idempotency_key: str | None = None,
) -> Call[PurchaseView]:
    """A partial refund's ``amount`` and ``of`` are sent as decimal text."""
    path = f"/v1/purchases/{segment(purchase_id)}/refund"
    body = None if amount is None else present(amount=str(amount), of=of and str(of))
    return post(path, PurchaseView.model_validate, body, idempotency_key)


def chargeback_purchase(
    purchase_id: str, *, freeze: bool = True, idempotency_key: str | None = None
) -> Call[PurchaseView]:
    path = f"/v1/purchases/{segment(purchase_id)}/chargeback"
    return post(path, PurchaseView.model_validate, {"freeze": freeze}, idempotency_key)


def set_frozen(
    wallet_id: str, reason: str | None, *, idempotency_key: str | None = None
) -> Call[WalletView]:
    """Freeze a wallet or (``None``) lift its freeze.  Needs an admin key."""
    path = f"/v1/wallets/{segment(wallet_id)}/freeze"
    return post(path, WalletView.model_validate, {"reason": reason}, idempotency_key)


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
    body = present(
        id=wallet_id,
        anchor_day=anchor_day,
        near_cap_percent=near_cap_percent,
        overdraft_limit=overdraft_limit,
    )
    return post("/v1/teams", TeamView.model_validate, body, idempotency_key)


def get_team(wallet_id: str) -> Call[TeamView]:
    return get(f"/v1/teams/{segment(wallet_id)}", TeamView.model_validate)


def set_member(
    wallet_id: str,
    member_id: str,
    *,
    cap: int | None = None,
    seat_credits: int | None = None,
    idempotency_key: str | None = None,
) -> Call[MemberView]:
    """Add a member (or change their cap and seat allowance; a removed member comes back)."""
    body = present(member_id=member_id, cap=cap, seat_credits=seat_credits)
    path = f"/v1/teams/{segment(wallet_id)}/members"
    return post(path, MemberView.model_validate, body, idempotency_key)


def remove_member(
    wallet_id: str, member_id: str, *, idempotency_key: str | None = None
) -> Call[MemberView]:
    path = f"/v1/teams/{segment(wallet_id)}/members/{segment(member_id)}/remove"
    return post(path, MemberView.model_validate, None, idempotency_key)


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
    body = {"below": list(below), "depleted": depleted} | present(
        topup_below=topup_below, topup_amount=topup_amount, expiring_days=expiring_days
    )
    path = f"/v1/wallets/{segment(wallet_id)}/alerts"
    return post(path, AlertsView.model_validate, body, idempotency_key)


def get_alerts(wallet_id: str) -> Call[AlertsView]:
    return get(f"/v1/wallets/{segment(wallet_id)}/alerts", AlertsView.model_validate)


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
    body = {"url": url, "secret": secret, "types": list(types)} | present(
        wallet_id=wallet_id, id=endpoint_id
    )
    return post("/v1/webhooks", WebhookView.model_validate, body)


def list_webhooks() -> Call[list[WebhookView]]:
    return get("/v1/webhooks", lambda body: _Webhooks.model_validate(body).items)


def enable_webhook(endpoint_id: str) -> Call[WebhookView]:
    return post(f"/v1/webhooks/{segment(endpoint_id)}/enable", WebhookView.model_validate)


def webhook_deliveries(
    endpoint_id: str | None = None, *, cursor: str | None = None, limit: int = 50
) -> Call[Page[DeliveryView]]:
    answer = Page[DeliveryView].model_validate
    path = "/v1/webhooks/deliveries"
    return get(path, answer, endpoint_id=endpoint_id, cursor=cursor, limit=limit)


def redeliver(endpoint_id: str, event_id: str) -> Call[DeliveryView]:
    path = f"/v1/webhooks/{segment(endpoint_id)}/deliveries/{segment(event_id)}/redeliver"
    return post(path, DeliveryView.model_validate)


def deliver() -> Call[DeliverReportPublic]:
    """Run the service's webhook deliverer once (admin key)."""
    return post("/v1/admin/deliver", DeliverReportPublic.model_validate)
