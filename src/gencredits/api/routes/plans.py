"""Subscriptions, the cycle tick, pack purchases, refunds, chargebacks and wallet freezes.

Provider-neutral: for platforms that take payments elsewhere and tell gencredits what was
paid.  Each route is a thin call of the same :class:`~gencredits.billing.Billing` method,
with its wire type as ``response_model``.  ``Idempotency-Key`` is required on every POST
that moves credits, as on the other billing routes.  Freezes and the tick need an admin key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import SCOPE_EXTRA, AdminKey, BillingKey, ReadKey
from gencredits.api.body import StrictBodyRoute
from gencredits.api.errors import error_responses
from gencredits.api.payments import RefundCreate
from gencredits.api.schemas import (
    ChargebackCreate,
    FreezeUpdate,
    PlanChange,
    PurchaseCreate,
    SubscriptionCreate,
    SubscriptionList,
)
from gencredits.api.state import ServicesDep
from gencredits.billing.plan_views import PurchaseView, SubscriptionView, TickReport
from gencredits.billing.views import WalletView
from gencredits.limits import ID_LEN_MAX, JOB_ID_LEN_MAX, KEY_LEN_MAX

router = APIRouter(prefix="/v1", route_class=StrictBodyRoute)

_F = TypeVar("_F", bound=Callable[..., Any])
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
WalletId = Annotated[str, Path(max_length=ID_LEN_MAX, pattern=PRINTABLE)]
SubscriptionId = Annotated[str, Path(max_length=JOB_ID_LEN_MAX, pattern=PRINTABLE)]
PurchaseId = Annotated[str, Path(max_length=ID_LEN_MAX, pattern=PRINTABLE)]
IdempotencyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=KEY_LEN_MAX,
        description="The caller's key for this operation; send the same one on every retry.",
    ),
]
READ = error_responses(401, 403, 404, 422, 503)
WRITE = error_responses(401, 403, 404, 409, 422, 503)


def _reads(path: str, tag: str, model: type[BaseModel]) -> Callable[[_F], _F]:
    return router.get(
        path, tags=[tag], response_model=model, responses=READ, openapi_extra=SCOPE_EXTRA["read"]
    )


def _writes(
    path: str, tag: str, model: type[BaseModel], *, created: bool = False, scope: str = "billing"
) -> Callable[[_F], _F]:
    return router.post(
        path,
        tags=[tag],
        status_code=201 if created else 200,
        response_model=model,
        responses=WRITE,
        openapi_extra=SCOPE_EXTRA[scope],
    )


# --- subscriptions ------------------------------------------------------------------------


@_writes("/wallets/{wallet_id}/subscriptions", "subscriptions", SubscriptionView, created=True)
async def create_subscription(
    wallet_id: WalletId,
    body: SubscriptionCreate,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> SubscriptionView:
    """Subscribe the wallet to a plan: cycles anchored on now, the first granted at once."""
    return await run_in_threadpool(
        services.billing.subscribe, wallet_id, body.plan, idempotency_key=idempotency_key
    )


@_reads("/wallets/{wallet_id}/subscriptions", "subscriptions", SubscriptionList)
async def list_subscriptions(
    wallet_id: WalletId, services: ServicesDep, _key: ReadKey
) -> SubscriptionList:
    items = await run_in_threadpool(services.billing.list_subscriptions, wallet_id)
    return SubscriptionList(items=items)


@_reads("/subscriptions/{subscription_id}", "subscriptions", SubscriptionView)
async def get_subscription(
    subscription_id: SubscriptionId, services: ServicesDep, _key: ReadKey
) -> SubscriptionView:
    """A subscription with its granted cycles."""
    return await run_in_threadpool(services.billing.get_subscription, subscription_id)


@_writes("/subscriptions/{subscription_id}/plan", "subscriptions", SubscriptionView)
async def change_plan(
    subscription_id: SubscriptionId,
    body: PlanChange,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> SubscriptionView:
    """Upgrade (at once or at the next cycle, as the catalog says) or downgrade (next
    cycle); ``outcome`` is ``immediate``, ``next_cycle`` or ``unchanged``."""
    return await run_in_threadpool(
        services.billing.change_plan, subscription_id, body.plan, idempotency_key=idempotency_key
    )


@_writes("/subscriptions/{subscription_id}/cancel", "subscriptions", SubscriptionView)
async def cancel_subscription(
    subscription_id: SubscriptionId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> SubscriptionView:
    """No renewal: granted credits stay to the cycle end."""
    return await run_in_threadpool(
        services.billing.cancel_subscription, subscription_id, idempotency_key=idempotency_key
    )


@_writes("/subscriptions/{subscription_id}/resume", "subscriptions", SubscriptionView)
async def resume_subscription(
    subscription_id: SubscriptionId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> SubscriptionView:
    """Undo a cancel before the cycle end, or end a past-due state once paid."""
    return await run_in_threadpool(
        services.billing.resume_subscription, subscription_id, idempotency_key=idempotency_key
    )


@_writes("/subscriptions/{subscription_id}/past-due", "subscriptions", SubscriptionView)
async def mark_past_due(
    subscription_id: SubscriptionId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> SubscriptionView:
    """A payment failed: nothing new is granted, nothing is taken away."""
    return await run_in_threadpool(
        services.billing.mark_past_due, subscription_id, idempotency_key=idempotency_key
    )


@router.post(
    "/admin/tick",
    tags=["admin"],
    response_model=TickReport,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def tick(services: ServicesDep, _key: AdminKey) -> TickReport:
    """Renew the subscriptions due now, each missed cycle once (the service also does this
    on every sweep).  Safe to run from many processes at once."""
    return await run_in_threadpool(services.billing.tick)


# --- purchases ----------------------------------------------------------------------------


@_writes("/wallets/{wallet_id}/purchases", "purchases", PurchaseView, created=True)
async def create_purchase(
    wallet_id: WalletId,
    body: PurchaseCreate,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> PurchaseView:
    """A pack was paid for: its credits and bonus as two linked grants."""
    return await run_in_threadpool(
        services.billing.purchase,
        wallet_id,
        body.pack,
        purchase_id=body.purchase_id,
        idempotency_key=idempotency_key,
    )


@_reads("/purchases/{purchase_id}", "purchases", PurchaseView)
async def get_purchase(
    purchase_id: PurchaseId, services: ServicesDep, _key: ReadKey
) -> PurchaseView:
    return await run_in_threadpool(services.billing.get_purchase, purchase_id)


@_writes("/purchases/{purchase_id}/refund", "purchases", PurchaseView)
async def refund_purchase(
    purchase_id: PurchaseId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
    body: RefundCreate | None = None,
) -> PurchaseView:
    """Take back what is left of the purchase's credits and bonus, never more; with an
    ``amount`` (refunded so far, cumulative), that share of them."""
    asked = body or RefundCreate()
    return await run_in_threadpool(
        partial(services.billing.refund_purchase, amount=asked.amount, of=asked.of),
        purchase_id,
        idempotency_key=idempotency_key,
    )


@_writes("/purchases/{purchase_id}/chargeback", "purchases", PurchaseView)
async def chargeback_purchase(
    purchase_id: PurchaseId,
    body: ChargebackCreate,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: IdempotencyHeader,
) -> PurchaseView:
    """As a refund, and the wallet is frozen (``freeze``): submissions answer 423."""
    return await run_in_threadpool(
        services.billing.chargeback_purchase,
        purchase_id,
        freeze=body.freeze,
        idempotency_key=idempotency_key,
    )


@_writes("/wallets/{wallet_id}/freeze", "wallets", WalletView, scope="admin")
async def set_frozen(
    wallet_id: WalletId,
    body: FreezeUpdate,
    services: ServicesDep,
    _key: AdminKey,
    idempotency_key: IdempotencyHeader,
) -> WalletView:
    """Freeze a wallet (``reason``) or lift its freeze (``reason: null``): an operator's call."""
    return await run_in_threadpool(
        services.billing.set_frozen, wallet_id, body.reason, idempotency_key=idempotency_key
    )
