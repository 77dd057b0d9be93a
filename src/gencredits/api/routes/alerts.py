"""Alerts and outbound webhooks: a wallet's alert rules (``billing`` to set, ``read`` to
read), webhook endpoints and their delivery log (``admin``: endpoints hold secrets), and a
deliverer run (``admin``; the service also runs it every ``webhook_interval_s``).

Thin calls of :class:`~gencredits.billing.Billing` (and of the deliverer); the signing and
retry rules are in docs/webhooks.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import SCOPE_EXTRA, AdminKey, BillingKey, ReadKey
from gencredits.api.body import StrictBodyRoute
from gencredits.api.errors import error_responses
from gencredits.api.routes.billing import Cursor, Limit, OptionalIdempotencyHeader, WalletId
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

router = APIRouter(prefix="/v1", route_class=StrictBodyRoute)

READ = error_responses(401, 403, 404, 422, 503)
WRITE = error_responses(401, 403, 404, 409, 422, 503)
EndpointId = WalletId


@router.post(
    "/wallets/{wallet_id}/alerts",
    tags=["alerts"],
    response_model=AlertsView,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["billing"],
)
async def set_alerts(
    wallet_id: WalletId,
    body: AlertsSet,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: OptionalIdempotencyHeader = None,
) -> AlertsView:
    """Set the wallet's alert rules (replacing earlier ones): levels of available credits,
    depleted, and an automatic top-up request.  One alert per crossing of a level."""
    return await run_in_threadpool(
        services.billing.set_alerts,
        wallet_id,
        below=body.below,
        depleted=body.depleted,
        topup_below=body.topup_below,
        topup_amount=body.topup_amount,
        expiring_days=body.expiring_days,
        idempotency_key=idempotency_key,
    )


@router.get(
    "/wallets/{wallet_id}/alerts",
    tags=["alerts"],
    response_model=AlertsView,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["read"],
)
async def get_alerts(wallet_id: WalletId, services: ServicesDep, _key: ReadKey) -> AlertsView:
    """The wallet's rules, which are fired now, and its top-up requests (grant each with
    its id as the idempotency key)."""
    return await run_in_threadpool(services.billing.get_alerts, wallet_id)


@router.post(
    "/webhooks",
    tags=["webhooks"],
    status_code=201,
    response_model=WebhookView,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["admin"],
)
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


@router.get(
    "/webhooks",
    tags=["webhooks"],
    response_model=WebhookList,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def list_webhooks(services: ServicesDep, _key: AdminKey) -> WebhookList:
    return WebhookList(items=await run_in_threadpool(services.billing.list_webhooks))


@router.post(
    "/webhooks/{endpoint_id}/enable",
    tags=["webhooks"],
    response_model=WebhookView,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def enable_webhook(
    endpoint_id: EndpointId, services: ServicesDep, _key: AdminKey
) -> WebhookView:
    """Turn an endpoint disabled after repeated failures back on."""
    return await run_in_threadpool(services.billing.enable_webhook, endpoint_id)


@router.get(
    "/webhooks/deliveries",
    tags=["webhooks"],
    response_model=DeliveryPage,
    responses=READ,
    openapi_extra=SCOPE_EXTRA["admin"],
)
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


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{event_id}/redeliver",
    tags=["webhooks"],
    response_model=DeliveryView,
    responses=WRITE,
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def redeliver(
    endpoint_id: EndpointId, event_id: EndpointId, services: ServicesDep, _key: AdminKey
) -> DeliveryView:
    """Send a delivery again (same body, same event id) at the deliverer's next run."""
    return await run_in_threadpool(services.billing.redeliver, endpoint_id, event_id)


@router.post(
    "/admin/deliver",
    tags=["admin"],
    response_model=DeliverReportPublic,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def deliver(services: ServicesDep, _key: AdminKey) -> DeliverReportPublic:
    """Run the deliverer once now: enqueue new events, attempt what is due."""
    report = await run_in_threadpool(services.deliverer().run_once)
    return DeliverReportPublic(**report.to_dict())
