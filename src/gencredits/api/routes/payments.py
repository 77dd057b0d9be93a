"""Payment provider webhooks (Stripe) and the log of what became of each event.

``POST /v1/webhooks/stripe`` takes no API key: Stripe signs the raw body, and the signature is
the authentication (checked before anything is read or recorded).  It answers 200 for every
verified event, whatever became of it, so Stripe stops retrying; the event's record says what
happened.  ``GET /v1/payment-events`` lists those records (admin).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from gencredits import limits
from gencredits.api.auth import SCOPE_EXTRA, AdminKey
from gencredits.api.errors import error_responses
from gencredits.api.payments import PaymentEventList, PaymentEventStore, PaymentEventView
from gencredits.api.state import ServicesDep
from gencredits.api.stripe_webhook import StripeWebhook, verify
from gencredits.errors import Unavailable

router = APIRouter(prefix="/v1")


class StripeEvent(BaseModel):
    """A Stripe event as Stripe sends it, with its ``type`` (checkout.session.completed,
    charge.refunded, ...) beside these fields.  Only some fields are named here; the raw
    bytes are what the signature covers, so the body is read as sent."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="The event id (evt_...): each is applied once.")
    created: int = Field(description="Unix time the event was made.")
    data: dict[str, Any] = Field(description="{object: the checkout session, invoice, ...}")


#: The body is read raw (the signature covers its bytes), so FastAPI does not see its model:
#: the document refers to it by name and ``create_app`` adds it to the components.
EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {"StripeEvent": StripeEvent.model_json_schema()}
SIGNED_BODY = {
    "x-scope": "signature",  # Stripe's signature, not an API key
    "security": [],
    "requestBody": {
        "required": True,
        "description": "The event exactly as Stripe sent it (its raw bytes are signed).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StripeEvent"}}},
    },
}


PaymentStatus = Literal["applied", "ignored", "pending", "rejected"]


@router.post(
    "/webhooks/stripe",
    tags=["payments"],
    response_model=PaymentEventView,
    responses=error_responses(400, 503),
    openapi_extra=SIGNED_BODY,
)
async def stripe_webhook(
    request: Request,
    services: ServicesDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> PaymentEventView:
    """A Stripe event: verified, applied once by its event id, recorded.  Answers 200 with
    the record for every verified event (``status``: applied, ignored, pending, rejected)."""
    secret = services.settings.stripe_webhook_secret
    if secret is None:
        raise Unavailable(
            "stripe webhooks are not configured: set stripe_webhook_secret "
            "(GENCREDITS_STRIPE_WEBHOOK_SECRET) to the endpoint's signing secret",
            details={"setting": "stripe_webhook_secret"},
        )
    body = await request.body()
    event = verify(
        body, stripe_signature, secret.get_secret_value(), services.settings.stripe_tolerance_s
    )
    hook = StripeWebhook(services.billing, PaymentEventStore(services.engine))
    return await run_in_threadpool(hook.handle, event)


@router.get(
    "/payment-events",
    tags=["payments"],
    response_model=PaymentEventList,
    responses=error_responses(401, 403, 422, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def list_payment_events(
    services: ServicesDep,
    _key: AdminKey,
    status: Annotated[
        PaymentStatus | None, Query(description="applied, ignored, pending, rejected")
    ] = None,
    wallet_id: Annotated[
        str | None,
        Query(min_length=1, max_length=limits.ID_LEN_MAX, pattern=r"^[^\x00-\x1f\x7f]+$"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_MAX)] = 100,
) -> PaymentEventList:
    """The recorded payment events, latest first."""
    store = PaymentEventStore(services.engine)
    items = await run_in_threadpool(store.list, status=status, wallet_id=wallet_id, limit=limit)
    return PaymentEventList(items=items)
