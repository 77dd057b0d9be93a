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
        assert body["hash"].startswith("sha256:")
        spec = http.get("/openapi.json").json()
        assert spec["paths"]["/v1/plans"]["get"]["operationId"] == "listPlans"
