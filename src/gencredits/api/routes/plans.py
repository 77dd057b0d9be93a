"""Subscriptions, the cycle tick, pack purchases, refunds, chargebacks and wallet freezes.

Provider-neutral: for platforms that take payments elsewhere and tell gencredits what was
paid.  Each route is a thin call of the same :class:`~gencredits.billing.Billing` method,
with its wire type as ``response_model``.  ``Idempotency-Key`` is required on every POST
that moves credits, as on the other billing routes.  Freezes and the tick need an admin key.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import AdminKey, ReadKey
from gencredits.api.errors import error_responses
from gencredits.api.payments import RefundCreate
from gencredits.api.routes.common import IdempotencyHeader, JobId, Routes, WalletId, Write, write_of
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
from gencredits.limits import ID_LEN_MAX, JOB_ID_LEN_MAX

_route = Routes()
router = _route.router

SubscriptionId = JobId
PurchaseId = WalletId
#: A POST that moves credits: on a wallet, a subscription, a purchase (see :class:`Write`).
OnWallet = Annotated[Write, Depends(write_of("wallet_id", ID_LEN_MAX))]
OnSubscription = Annotated[Write, Depends(write_of("subscription_id", JOB_ID_LEN_MAX))]
OnPurchase = Annotated[Write, Depends(write_of("purchase_id", ID_LEN_MAX))]
_reads, _writes = _route.reads, _route.writes


# --- subscriptions ------------------------------------------------------------------------


@_writes("/wallets/{wallet_id}/subscriptions", "subscriptions", SubscriptionView, created=True)
async def create_subscription(body: SubscriptionCreate, call: OnWallet) -> SubscriptionView:
    """Subscribe the wallet to a plan: cycles anchored on now, the first granted at once."""
    return await run_in_threadpool(
        call.billing.subscribe, call.id, body.plan, idempotency_key=call.idempotency_key
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
async def change_plan(body: PlanChange, call: OnSubscription) -> SubscriptionView:
    """Upgrade (at once or at the next cycle, as the catalog says) or downgrade (next
    cycle); ``outcome`` is ``immediate``, ``next_cycle`` or ``unchanged``."""
    return await run_in_threadpool(
        call.billing.change_plan, call.id, body.plan, idempotency_key=call.idempotency_key
    )


@_writes("/subscriptions/{subscription_id}/cancel", "subscriptions", SubscriptionView)
async def cancel_subscription(call: OnSubscription) -> SubscriptionView:
    """No renewal: granted credits stay to the cycle end."""
    return await run_in_threadpool(
        call.billing.cancel_subscription, call.id, idempotency_key=call.idempotency_key
    )


@_writes("/subscriptions/{subscription_id}/resume", "subscriptions", SubscriptionView)
async def resume_subscription(call: OnSubscription) -> SubscriptionView:
    """Undo a cancel before the cycle end, or end a past-due state once paid."""
    return await run_in_threadpool(
        call.billing.resume_subscription, call.id, idempotency_key=call.idempotency_key
    )


@_writes("/subscriptions/{subscription_id}/past-due", "subscriptions", SubscriptionView)
async def mark_past_due(call: OnSubscription) -> SubscriptionView:
    """A payment failed: nothing new is granted, nothing is taken away."""
    return await run_in_threadpool(
        call.billing.mark_past_due, call.id, idempotency_key=call.idempotency_key
    )


@_writes(
    "/admin/tick", "admin", TickReport, scope="admin", responses=error_responses(401, 403, 503)
)
async def tick(services: ServicesDep, _key: AdminKey) -> TickReport:
    """Renew the subscriptions due now, each missed cycle once (the service also does this
    on every sweep).  Safe to run from many processes at once."""
    return await run_in_threadpool(services.billing.tick)


# --- purchases ----------------------------------------------------------------------------


@_writes("/wallets/{wallet_id}/purchases", "purchases", PurchaseView, created=True)
async def create_purchase(body: PurchaseCreate, call: OnWallet) -> PurchaseView:
    """A pack was paid for: its credits and bonus as two linked grants."""
    return await run_in_threadpool(
        call.billing.purchase,
        call.id,
        body.pack,
        purchase_id=body.purchase_id,
        idempotency_key=call.idempotency_key,
    )


@_reads("/purchases/{purchase_id}", "purchases", PurchaseView)
async def get_purchase(
    purchase_id: PurchaseId, services: ServicesDep, _key: ReadKey
) -> PurchaseView:
    return await run_in_threadpool(services.billing.get_purchase, purchase_id)


@_writes("/purchases/{purchase_id}/refund", "purchases", PurchaseView)
async def refund_purchase(call: OnPurchase, body: RefundCreate | None = None) -> PurchaseView:
    """Take back what is left of the purchase's credits and bonus, never more; with an
    ``amount`` (refunded so far, cumulative), that share of them."""
    asked = body or RefundCreate()
    return await run_in_threadpool(
        partial(call.billing.refund_purchase, amount=asked.amount, of=asked.of),
        call.id,
        idempotency_key=call.idempotency_key,
    )


@_writes("/purchases/{purchase_id}/chargeback", "purchases", PurchaseView)
async def chargeback_purchase(body: ChargebackCreate, call: OnPurchase) -> PurchaseView:
    """As a refund, and the wallet is frozen (``freeze``): submissions answer 423."""
    return await run_in_threadpool(
        call.billing.chargeback_purchase,
        call.id,
        freeze=body.freeze,
        idempotency_key=call.idempotency_key,
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
