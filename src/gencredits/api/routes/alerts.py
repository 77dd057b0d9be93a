"""Alerts and outbound webhooks: a wallet's alert rules (``billing`` to set, ``read`` to
read), webhook endpoints and their delivery log (``admin``: endpoints hold secrets), and a
deliverer run (``admin``; the service also runs it every ``webhook_interval_s``).

Thin calls of :class:`~gencredits.billing.Billing` (and of the deliverer); the signing and
retry rules are in docs/webhooks.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import AdminKey, ReadKey
from gencredits.api.errors import error_responses
from gencredits.api.routes.common import Change, Cursor, Limit, Routes, WalletId, change_of
from gencredits.api.schemas import (
    AlertsSet,
    DeliverReportPublic,
    DeliveryPage,
    WebhookCreate,
    WebhookList,
)
from gencredits.api.state import ServicesDep
from gencredits.billing.alert_ops import AlertsView
from gencredits.billing.webhook_ops import DeliveryView, WebhookView
from gencredits.limits import ID_LEN_MAX

_route = Routes()
router = _route.router

EndpointId = WalletId
OnWallet = Annotated[Change, Depends(change_of("wallet_id", ID_LEN_MAX))]


@_route.writes("/wallets/{wallet_id}/alerts", "alerts", AlertsView)
async def set_alerts(body: AlertsSet, call: OnWallet) -> AlertsView:
    """Set the wallet's alert rules (replacing earlier ones): levels of available credits,
    depleted, and an automatic top-up request.  One alert per crossing of a level."""
    return await run_in_threadpool(
        call.billing.set_alerts,
        call.id,
        below=body.below,
        depleted=body.depleted,
        topup_below=body.topup_below,
        topup_amount=body.topup_amount,
        expiring_days=body.expiring_days,
        idempotency_key=call.idempotency_key,
    )


@_route.reads("/wallets/{wallet_id}/alerts", "alerts", AlertsView)
async def get_alerts(wallet_id: WalletId, services: ServicesDep, _key: ReadKey) -> AlertsView:
    """The wallet's rules, which are fired now, and its top-up requests (grant each with
    its id as the idempotency key)."""
    return await run_in_threadpool(services.billing.get_alerts, wallet_id)


@_route.writes("/webhooks", "webhooks", WebhookView, created=True, scope="admin")
async def add_webhook(body: WebhookCreate, services: ServicesDep, _key: AdminKey) -> WebhookView:
    """Register an endpoint for one wallet's events (or all) of some types (``*``: all)."""
    return await run_in_threadpool(
        services.billing.add_webhook,
        body.url,
        body.secret,
        wallet_id=body.wallet_id,
        types=body.types,
        endpoint_id=body.id,
    )


@_route.reads("/webhooks", "webhooks", WebhookList, scope="admin")
async def list_webhooks(services: ServicesDep, _key: AdminKey) -> WebhookList:
    return WebhookList(items=await run_in_threadpool(services.billing.list_webhooks))


@_route.writes("/webhooks/{endpoint_id}/enable", "webhooks", WebhookView, scope="admin")
async def enable_webhook(
    endpoint_id: EndpointId, services: ServicesDep, _key: AdminKey
) -> WebhookView:
    """Turn an endpoint disabled after repeated failures back on."""
    return await run_in_threadpool(services.billing.enable_webhook, endpoint_id)


@_route.reads("/webhooks/deliveries", "webhooks", DeliveryPage, scope="admin")
async def webhook_deliveries(
    services: ServicesDep,
    _key: AdminKey,
    endpoint_id: Annotated[str | None, Query(max_length=ID_LEN_MAX)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeliveryPage:
    """The delivery log: each (endpoint, event) with its status, attempts and last answer."""
    page = await run_in_threadpool(
        services.billing.webhook_deliveries, endpoint_id, cursor=cursor, limit=limit
    )
    return DeliveryPage.model_construct(items=page.items, next_cursor=page.next_cursor)


@_route.writes(
    "/webhooks/{endpoint_id}/deliveries/{event_id}/redeliver",
    "webhooks",
    DeliveryView,
    scope="admin",
)
async def redeliver(
    endpoint_id: EndpointId, event_id: EndpointId, services: ServicesDep, _key: AdminKey
) -> DeliveryView:
    """Send a delivery again (same body, same event id) at the deliverer's next run."""
    return await run_in_threadpool(services.billing.redeliver, endpoint_id, event_id)


@_route.writes(
    "/admin/deliver",
    "admin",
    DeliverReportPublic,
    scope="admin",
    responses=error_responses(401, 403, 503),
)
async def deliver(services: ServicesDep, _key: AdminKey) -> DeliverReportPublic:
    """Run the deliverer once now: enqueue new events, attempt what is due."""
    report = await run_in_threadpool(services.deliverer().run_once)
    return DeliverReportPublic(**report.to_dict())
