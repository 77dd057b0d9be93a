"""Stripe events applied to the ledger, each exactly once by its event id.

The signature is checked with the official ``stripe`` library (raw body, ``Stripe-Signature``,
tolerance window) before anything is read or recorded.  Each event maps to one provider-neutral
:class:`~gencredits.billing.Billing` call under the idempotency key ``stripe:<event id>``, so
the ledger's idempotency record (written in the same transaction as the credit movement)
makes a redelivered event move nothing.  The metadata contract is in docs/payments.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import stripe

from gencredits.billing import Billing
from gencredits.errors import (
    BadSignature,
    GencreditsError,
    PurchaseNotFound,
    WalletNotFound,
)

from .payments import PaymentEventStore, PaymentEventView

__all__ = ["HANDLED", "StripeWebhook", "verify"]

PROVIDER = "stripe"


def verify(body: bytes, header: str | None, secret: str, tolerance_s: int) -> dict[str, Any]:
    """The event in ``body`` once its signature verifies; :class:`BadSignature` otherwise."""
    if not header:
        raise BadSignature(
            "Stripe-Signature: the header is missing; Stripe signs every webhook it sends",
            details={"field": "Stripe-Signature"},
        )
    try:
        text = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, header, secret, tolerance_s)
        event = json.loads(text)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(
            f"Stripe-Signature: {exc.user_message or exc}; the body must be the raw request "
            f"signed within {tolerance_s} s with the endpoint's secret",
            details={"field": "Stripe-Signature", "tolerance_s": tolerance_s},
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise BadSignature("body: a signed Stripe event must be JSON text") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadSignature("body: a Stripe event is a JSON object with an id")
    return event


@dataclass(slots=True)
class Result:
    status: str
    outcome: str
    wallet_id: str | None = None
    ref: str | None = None
    result_id: str | None = None
    detail: str = ""


def _obj(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data") or {}
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else {}


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _ref(value: Any) -> str | None:
    """An id, whether Stripe sent it as text or expanded into an object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _refunded_share(obj: dict[str, Any]) -> tuple[Decimal, Decimal] | None:
    """A charge's ``amount_refunded`` (cumulative) and ``amount``, in its smallest currency
    unit, when both are whole numbers with 0 < refunded <= amount."""
    refunded, amount = obj.get("amount_refunded"), obj.get("amount")
    for value in (refunded, amount):
        if not isinstance(value, int) or isinstance(value, bool):
            return None
    assert isinstance(refunded, int) and isinstance(amount, int)
    if not 0 < refunded <= amount:
        return None
    return Decimal(refunded), Decimal(amount)


def _invoice_subscription(obj: dict[str, Any]) -> str | None:
    # Before API version 2025-03-31 on the invoice itself; since, under parent.
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    nested = details.get("subscription") if isinstance(details, dict) else None
    return _ref(obj.get("subscription")) or _ref(nested)


class StripeWebhook:
    """Applies verified events and records what became of each."""

    def __init__(self, billing: Billing, store: PaymentEventStore) -> None:
        self.billing = billing
        self.store = store

    def handle(self, event: dict[str, Any]) -> PaymentEventView:
        """Apply ``event`` once; a redelivery of a settled event answers its first record."""
        seen = self.store.get(event["id"])
        if seen is not None and seen.status != "pending":
            return seen.model_copy(update={"duplicate": True})
        view = self._apply_and_record(event)
        if view.status == "applied" and view.event_type == "checkout.session.completed":
            for waiting in self.store.pending_for(view.provider_ref or ""):
                self._apply_and_record(self.store.payload(waiting))
        return view

    def _apply_and_record(self, event: dict[str, Any]) -> PaymentEventView:
        kind = str(event.get("type", ""))
        handler = HANDLED.get(kind)
        if handler is None:
            result = Result("ignored", "unhandled_type", detail=f"{kind!r} is not a handled type")
        else:
            result = self._run(handler, event)
        created = event.get("created")
        at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else datetime.now(UTC)
        values = {
            "event_id": event["id"][:255],
            "provider": PROVIDER,
            "type": kind[:100],
            "status": result.status,
            "outcome": result.outcome[:64],
            "wallet_id": result.wallet_id,
            "provider_ref": result.ref,
            "result_id": result.result_id,
            "detail": result.detail,
            "event_created_at": at,
        }
        return self.store.record(values, event)

    def _run(self, handler: Handler, event: dict[str, Any]) -> Result:
        obj = _obj(event)
        try:
            return handler(self, obj, "stripe:" + event["id"])
        except WalletNotFound as exc:
            return Result("ignored", "unknown_wallet", detail=exc.message)
        except GencreditsError as exc:
            return Result("rejected", exc.code, detail=exc.message)

    # ------------------------------------------------------------------ the mapping
    def checkout_completed(self, obj: dict[str, Any], key: str) -> Result:
        meta = _meta(obj)
        wallet = meta.get("wallet_id")
        if not isinstance(wallet, str) or not wallet:
            return Result("ignored", "no_wallet", detail="metadata.wallet_id is not set")
        if isinstance(meta.get("pack"), str):
            ref = _ref(obj.get("payment_intent")) or _ref(obj.get("id"))
            assert ref is not None
            pack = meta["pack"]
            bought = self.billing.purchase(wallet, pack, purchase_id=ref, idempotency_key=key)
            return Result("applied", bought.outcome or "purchased", wallet, ref, bought.id)
        if isinstance(meta.get("plan"), str):
            ref = _ref(obj.get("subscription"))
            if ref is None:
                return Result("rejected", "no_subscription", wallet, detail="no subscription id")
            sub = self.billing.subscribe(wallet, meta["plan"], idempotency_key=key)
            return Result("applied", sub.outcome or "subscribed", wallet, ref, sub.id)
        return Result("ignored", "no_pack_or_plan", wallet, detail="metadata has no pack or plan")

    def _subscription(self, ref: str | None) -> tuple[str | None, Result | None]:
        if ref is None:
            return None, Result("ignored", "no_subscription", detail="no subscription id")
        sub_id = self.store.result_for(ref)
        if sub_id is None:
            detail = f"subscription {ref!r} is not known yet: applied when its checkout arrives"
            return None, Result("pending", "unknown_subscription", None, ref, detail=detail)
        return sub_id, None

    def _on_sub(self, ref: str | None, act: Callable[[str, str], tuple[str, str]]) -> Result:
        sub_id, waiting = self._subscription(ref)
        if waiting is not None or sub_id is None:
            return waiting or Result("ignored", "no_subscription", None, ref)
        state = self.billing.get_subscription(sub_id)
        outcome, detail = act(sub_id, state.state)
        return Result("applied", outcome, state.wallet_id, ref, sub_id, detail)

    def invoice_paid(self, obj: dict[str, Any], key: str) -> Result:
        def act(sub_id: str, state: str) -> tuple[str, str]:
            if state != "past_due":
                return f"already_{state}", "renewals are granted by the tick"
            view = self.billing.resume_subscription(sub_id, idempotency_key=key)
            return view.outcome or "resumed", ""

        return self._on_sub(_invoice_subscription(obj), act)

    def invoice_failed(self, obj: dict[str, Any], key: str) -> Result:
        def act(sub_id: str, state: str) -> tuple[str, str]:
            if state != "active":
                return f"already_{state}", ""
            view = self.billing.mark_past_due(sub_id, idempotency_key=key)
            return view.outcome or "past_due", ""

        return self._on_sub(_invoice_subscription(obj), act)

    def subscription_updated(self, obj: dict[str, Any], key: str) -> Result:
        plan = _meta(obj).get("plan")

        def act(sub_id: str, state: str) -> tuple[str, str]:
            done: list[str] = []
            current = self.billing.get_subscription(sub_id)
            wanted = current.pending_plan or current.plan
            if isinstance(plan, str) and plan != wanted and state in ("active", "cancelled"):
                view = self.billing.change_plan(sub_id, plan, idempotency_key=key + ":plan")
                done.append(f"plan_{view.outcome}")
            if obj.get("cancel_at_period_end") is True and state in ("active", "past_due"):
                self.billing.cancel_subscription(sub_id, idempotency_key=key + ":cancel")
                done.append("cancelled")
            elif obj.get("cancel_at_period_end") is False and state == "cancelled":
                self.billing.resume_subscription(sub_id, idempotency_key=key + ":resume")
                done.append("resumed")
            return ("+".join(done) or "unchanged"), ""

        return self._on_sub(_ref(obj.get("id")), act)

    def subscription_deleted(self, obj: dict[str, Any], key: str) -> Result:
        def act(sub_id: str, state: str) -> tuple[str, str]:
            if state not in ("active", "past_due"):
                return f"already_{state}", ""
            view = self.billing.cancel_subscription(sub_id, idempotency_key=key)
            return view.outcome or "cancelled", "credits stay to the cycle end"

        return self._on_sub(_ref(obj.get("id")), act)

    def _take_back(self, obj: dict[str, Any], key: str, *, chargeback: bool) -> Result:
        ref = _ref(obj.get("payment_intent"))
        if ref is None:
            return Result("ignored", "no_payment_intent", detail="no payment_intent on the event")
        share: tuple[Decimal, Decimal] | None = None
        if not chargeback and obj.get("refunded") is False:
            share = _refunded_share(obj)
            if share is None:
                detail = "a partial refund needs amount_refunded and amount (whole numbers)"
                return Result("ignored", "partial_refund", None, ref, detail=detail)
        try:
            if chargeback:
                view = self.billing.chargeback_purchase(ref, idempotency_key=key)
            elif share is not None:
                amount, paid = share
                view = self.billing.refund_purchase(
                    ref, amount=amount, of=paid, idempotency_key=key
                )
            else:
                view = self.billing.refund_purchase(ref, idempotency_key=key)
        except PurchaseNotFound:
            detail = f"purchase {ref!r} is not known yet: applied when its checkout arrives"
            return Result("pending", "unknown_purchase", None, ref, detail=detail)
        return Result("applied", view.outcome or "taken_back", view.wallet_id, ref, view.id)

    def charge_refunded(self, obj: dict[str, Any], key: str) -> Result:
        return self._take_back(obj, key, chargeback=False)

    def dispute_created(self, obj: dict[str, Any], key: str) -> Result:
        return self._take_back(obj, key, chargeback=True)


Handler = Callable[[StripeWebhook, dict[str, Any], str], Result]
#: The event types applied; any other is recorded as ``ignored``.
HANDLED: dict[str, Handler] = {
    "checkout.session.completed": StripeWebhook.checkout_completed,
    "invoice.paid": StripeWebhook.invoice_paid,
    "invoice.payment_failed": StripeWebhook.invoice_failed,
    "charge.refunded": StripeWebhook.charge_refunded,
    "charge.dispute.created": StripeWebhook.dispute_created,
    "customer.subscription.updated": StripeWebhook.subscription_updated,
    "customer.subscription.deleted": StripeWebhook.subscription_deleted,
}
