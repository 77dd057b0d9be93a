"""GET /v1/plans: the plan catalog with each plan's and pack's price per credit."""

from __future__ import annotations

from decimal import Decimal

from tests.api.conftest import LiveService


def test_plans_are_listed_with_prices_per_credit(live: LiveService, keys: dict[str, str]) -> None:
    with live.client(keys["read"]) as http:
        answer = http.get("/v1/plans")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        starter = next(p for p in body["plans"] if p["id"] == "starter")
        assert starter["monthly_credits"] == 1250
        assert Decimal(starter["price_per_credit"]) == Decimal("0.008")
        packs = [Decimal(k["price_per_credit"]) for k in body["packs"]]
        assert packs == sorted(packs, reverse=True)
        assert body["content_hash"].startswith("sha256:")
        spec = http.get("/openapi.json").json()
        assert spec["paths"]["/v1/plans"]["get"]["operationId"] == "listPlans"


def test_subscribe_purchase_chargeback_freeze_over_the_client(
    live: LiveService, keys: dict[str, str]
) -> None:
    import uuid

    import pytest

    from gencredits.client import Client
    from gencredits.errors import WalletFrozen

    wallet = f"plans-{uuid.uuid4().hex[:8]}"
    with Client(live.url, keys["billing"]) as gc, Client(live.url, keys["admin"]) as admin:
        gc.create_wallet(wallet)
        sub = gc.subscribe(wallet, "starter", idempotency_key="sub-1")
        assert (sub.plan, sub.state, sub.outcome) == ("starter", "active", "subscribed")
        assert gc.subscribe(wallet, "starter", idempotency_key="sub-1").replayed
        assert [s.id for s in gc.list_subscriptions(wallet)] == [sub.id]
        assert [c.number for c in gc.get_subscription(sub.id).cycles] == [0]
        bought = gc.purchase(wallet, "medium", purchase_id=f"pay-{wallet}", idempotency_key="p1")
        assert (bought.pack_credits, bought.bonus_credits) == (2000, 200)
        assert gc.get_wallet(wallet).available == 1250 + 2200
        up = gc.change_plan(sub.id, "pro", idempotency_key="up")
        assert up.outcome == "immediate" and gc.get_wallet(wallet).available == 1250 + 2200 + 4500
        back = gc.chargeback_purchase(bought.id, idempotency_key="cb")
        assert (back.state, back.taken_back, back.spent) == ("charged_back", 2200, 0)
        with pytest.raises(WalletFrozen):
            gc.submit(wallet, "kling/v2-1-pro", {"duration": 5}, catalog="api-pricing")
        raw = gc.request(
            "POST",
            f"/v1/wallets/{wallet}/jobs",
            json={"model": "kling/v2-1-pro"},
            idempotency_key="r",
        )
        assert raw.status_code == 423 and raw.json()["error"]["code"] == "wallet_frozen"
        assert admin.set_frozen(wallet, None, idempotency_key="lift").frozen is None
        job = gc.submit(wallet, "kling/v2-1-pro", {"duration": 5}, catalog="api-pricing")
        assert job.state == "pending"
        assert admin.tick().cycles_granted >= 0
        assert gc.cancel_subscription(sub.id, idempotency_key="c").state == "cancelled"
