"""Every route of the app, called live with a valid request, answers what its OpenAPI
document says: a documented status, and a body valid against the schema documented for
that status and content type (``$ref`` resolved against the document's components).

The routes are read from ``app.routes``, so a new route without a call here fails the
test, and a route whose real answer drifts from its ``response_model`` fails it too.
A few error answers are checked the same way (the error shape is documented as well).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
import pytest
import stripe
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute
from tests.api.conftest import CALLBACK_SECRET, STRIPE_SECRET, LiveService

from gencredits.api import create_app
from gencredits.api.routes.billing import sign_callback
from gencredits.config import load_settings

KLING_10S = {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 10}}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app as ``serve`` builds it: only its routes and document are used (never run)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('doc') / 'unused.db'}"
    return create_app(load_settings(database_url=url))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@dataclass
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    content: bytes | None = None
    key: str | None = None  # the scope of the key sent (None: no Authorization header)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    return raw, {
        "Content-Type": "application/json",
        "X-Gencredits-Timestamp": ts,
        "X-Gencredits-Signature": sign_callback(CALLBACK_SECRET, ts, raw),
    }


class Exerciser:
    """Sends calls to the live service and checks each answer against the document."""

    def __init__(self, live: LiveService, keys: dict[str, str], document: dict[str, Any]):
        self.live = live
        self.keys = keys
        self.document = document
        self.checked: set[tuple[str, str]] = set()

    def send(self, route: str, call: Call, expect: int) -> httpx.Response:
        headers = dict(call.headers or {})
        if call.key is not None:
            headers["Authorization"] = f"Bearer {self.keys[call.key]}"
        if call.method == "POST" and call.key in ("billing", "admin"):
            headers.setdefault("Idempotency-Key", new_id("k"))
        with httpx.Client(base_url=self.live.url, timeout=30) as c:
            answer = c.request(
                call.method,
                call.path,
                json=call.json,
                content=call.content,
                params=call.params,
                headers=headers,
            )
        assert answer.status_code == expect, (route, answer.status_code, answer.text)
        check_answer(self.document, route, call.method, answer)
        self.checked.add((call.method, route))
        return answer


def check_answer(document: dict[str, Any], route: str, method: str, answer: httpx.Response) -> None:
    """``answer`` has a status documented for the operation, and its body is valid
    against the schema documented for that status and content type."""
    operation = document["paths"][route][method.lower()]
    responses = operation["responses"]
    status = str(answer.status_code)
    assert status in responses, f"{method} {route}: status {status} is not documented"
    content = responses[status].get("content", {})
    media_type = answer.headers.get("content-type", "").split(";")[0].strip()
    assert media_type in content, f"{method} {route} {status}: {media_type} is not documented"
    schema = content[media_type].get("schema", {})
    body: Any = answer.json() if media_type == "application/json" else answer.text
    validate(document, schema, body, f"{method} {route} {status}")


def validate(document: dict[str, Any], schema: dict[str, Any], body: Any, what: str) -> None:
    # The schema is checked as part of the document, so "#/components/..." refs resolve.
    rooted = {**schema, "components": document.get("components", {})}
    validator = jsonschema.Draft202012Validator(rooted)
    problems = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not problems, f"{what}: the answer disagrees with its document: " + "; ".join(
        f"{list(p.absolute_path)}: {p.message}" for p in problems[:5]
    )


def documented_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route of ``app`` in its document, routers included (an
    included router is a route of ``app.routes`` that holds the router's own routes)."""

    def walk(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, str]]:
        for route in routes:
            if isinstance(route, APIRoute):
                if route.include_in_schema:
                    for method in sorted(route.methods):
                        yield method, route.path_format
            elif isinstance(getattr(route, "original_router", None), APIRouter):
                yield from walk(route.original_router.routes)  # type: ignore[attr-defined]

    return walk(app.routes)


def test_the_routes_walked_are_the_documented_ones(app: FastAPI, document: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert set(documented_routes(app)) == documented
    assert len(documented) >= 30


def test_every_route_answers_as_documented(
    app: FastAPI, document: dict[str, Any], live: LiveService, keys: dict[str, str]
) -> None:
    ex = Exerciser(live, keys, document)
    calls: dict[tuple[str, str], Callable[[], None]] = {}

    def route(method: str, path: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
        def register(fn: Callable[[], None]) -> Callable[[], None]:
            calls[(method, path)] = fn
            return fn

        return register

    state: dict[str, str] = {}

    # --- health, catalog, pricing ---------------------------------------------------------
    @route("GET", "/healthz")
    def _() -> None:
        ex.send("/healthz", Call("GET", "/healthz"), 200)

    @route("GET", "/readyz")
    def _() -> None:
        ex.send("/readyz", Call("GET", "/readyz"), 200)

    @route("GET", "/metrics")
    def _() -> None:
        ex.send("/metrics", Call("GET", "/metrics", key="read"), 200)

    @route("GET", "/v1/catalogs")
    def _() -> None:
        ex.send("/v1/catalogs", Call("GET", "/v1/catalogs", key="read"), 200)

    @route("GET", "/v1/catalogs/{catalog}")
    def _() -> None:
        path = "/v1/catalogs/{catalog}"
        ex.send(path, Call("GET", "/v1/catalogs/api-pricing", key="read"), 200)

    @route("GET", "/v1/models")
    def _() -> None:
        ex.send("/v1/models", Call("GET", "/v1/models", key="read"), 200)

    @route("GET", "/v1/models/{model}")
    def _() -> None:
        call = Call("GET", "/v1/models/kling/v2-1-pro", params={"catalog": "api-pricing"})
        call.key = "read"
        ex.send("/v1/models/{model}", call, 200)

    @route("POST", "/v1/quotes")
    def _() -> None:
        ex.send("/v1/quotes", Call("POST", "/v1/quotes", json=KLING_10S, key="read"), 200)

    @route("POST", "/v1/compare")
    def _() -> None:
        body = {"catalog": "api-pricing", "params": {"duration": 5}}
        ex.send("/v1/compare", Call("POST", "/v1/compare", json=body, key="read"), 200)

    @route("POST", "/v1/capacity")
    def _() -> None:
        body = {**KLING_10S, "balance": 1250}
        ex.send("/v1/capacity", Call("POST", "/v1/capacity", json=body, key="read"), 200)

    @route("POST", "/v1/project-quotes")
    def _() -> None:
        body = {
            "catalog": "api-pricing",
            "steps": [{"model": "kling/v2-1-pro", "settings": {"duration": 5}, "count": 3}],
        }
        call = Call("POST", "/v1/project-quotes", json=body, key="read")
        ex.send("/v1/project-quotes", call, 200)

    # --- catalog versions: a catalog of its own, scheduled far ahead (prices nothing now) ---
    @route("POST", "/v1/catalogs/{catalog}/versions")
    def _() -> None:
        name = state["versioned"] = new_id("doc-catalog")
        path = f"/v1/catalogs/{name}/versions"
        for version, price in (("1", 10), ("2", 12)):
            text = f"catalog: {name}\nversion: '{version}'\nmodels:\n  m:\n    name: m\n"
            text += f"    modes: [text-to-image]\n    price: {{flat: {price}}}\n"
            body = {"yaml": text, "effective_at": f"2999-01-0{version}T00:00:00Z"}
            route_path = "/v1/catalogs/{catalog}/versions"
            ex.send(route_path, Call("POST", path, json=body, key="admin"), 201)
        bad = {"yaml": f"catalog: {name}\nversion: '3'\nmodels: {{m: {{name: m}}}}\n"}
        ex.send(route_path, Call("POST", path, json=bad, key="admin"), 422)

    @route("GET", "/v1/catalogs/{catalog}/versions")
    def _() -> None:
        path = f"/v1/catalogs/{state['versioned']}/versions"
        ex.send("/v1/catalogs/{catalog}/versions", Call("GET", path, key="read"), 200)

    @route("GET", "/v1/catalogs/{catalog}/versions/{version}")
    def _() -> None:
        path = f"/v1/catalogs/{state['versioned']}/versions/1"
        ex.send("/v1/catalogs/{catalog}/versions/{version}", Call("GET", path, key="read"), 200)

    @route("GET", "/v1/catalogs/{catalog}/diff")
    def _() -> None:
        path = f"/v1/catalogs/{state['versioned']}/diff"
        call = Call("GET", path, params={"old": "1", "new": "2"}, key="read")
        answer = ex.send("/v1/catalogs/{catalog}/diff", call, 200)
        assert [r["change_percent"] for r in answer.json()["rows"]] == ["20.0"]

    # --- wallets, grants, jobs --------------------------------------------------------------
    @route("POST", "/v1/wallets")
    def _() -> None:
        state["wallet"] = new_id("w")
        body = {"id": state["wallet"], "hold_ttl_s": 600}
        ex.send("/v1/wallets", Call("POST", "/v1/wallets", json=body, key="billing"), 201)

    @route("GET", "/v1/wallets")
    def _() -> None:
        call = Call("GET", "/v1/wallets", params={"limit": "2"}, key="read")
        ex.send("/v1/wallets", call, 200)

    @route("POST", "/v1/wallets/{wallet_id}/grants")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/grants"
        body = {"amount": 1000, "kind": "purchase", "source": "order-1"}
        ex.send("/v1/wallets/{wallet_id}/grants", Call("POST", path, json=body, key="billing"), 201)
        bonus = {"amount": 5, "kind": "bonus", "expires_at": "2999-01-01T00:00:00Z"}
        answer = ex.send(
            "/v1/wallets/{wallet_id}/grants", Call("POST", path, json=bonus, key="billing"), 201
        )
        state["grant"] = answer.json()["id"]

    @route("GET", "/v1/wallets/{wallet_id}")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}"
        ex.send("/v1/wallets/{wallet_id}", Call("GET", path, key="read"), 200)

    @route("GET", "/v1/wallets/{wallet_id}/grants")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/grants"
        ex.send("/v1/wallets/{wallet_id}/grants", Call("GET", path, key="read"), 200)

    @route("POST", "/v1/grants/{grant_id}/void")
    def _() -> None:
        path = f"/v1/grants/{state['grant']}/void"
        ex.send("/v1/grants/{grant_id}/void", Call("POST", path, key="billing"), 200)

    def submit() -> str:
        path = f"/v1/wallets/{state['wallet']}/jobs"
        body = {**KLING_10S, "metadata": {"project": "p1"}}
        call = Call("POST", path, json=body, key="billing")
        return str(ex.send("/v1/wallets/{wallet_id}/jobs", call, 201).json()["id"])

    @route("POST", "/v1/wallets/{wallet_id}/jobs")
    def _() -> None:
        state["job"] = submit()

    @route("POST", "/v1/wallets/{wallet_id}/free-jobs")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/free-jobs"
        call = Call("POST", path, json={"kind": "scheduling"}, key="billing")
        ex.send("/v1/wallets/{wallet_id}/free-jobs", call, 201)

    @route("GET", "/v1/jobs/{job_id}")
    def _() -> None:
        ex.send("/v1/jobs/{job_id}", Call("GET", f"/v1/jobs/{state['job']}", key="read"), 200)

    @route("POST", "/v1/jobs/{job_id}/complete")
    def _() -> None:
        path = f"/v1/jobs/{state['job']}/complete"
        call = Call("POST", path, json={"actual_params": {"duration": 5}}, key="billing")
        ex.send("/v1/jobs/{job_id}/complete", call, 200)

    @route("POST", "/v1/jobs/{job_id}/fail")
    def _() -> None:
        path = f"/v1/jobs/{submit()}/fail"
        call = Call("POST", path, json={"reason": "provider down"}, key="billing")
        ex.send("/v1/jobs/{job_id}/fail", call, 200)

    @route("POST", "/v1/jobs/{job_id}/cancel")
    def _() -> None:
        path = f"/v1/jobs/{submit()}/cancel"
        ex.send("/v1/jobs/{job_id}/cancel", Call("POST", path, key="billing"), 200)

    @route("POST", "/v1/callbacks/provider")
    def _() -> None:
        report = {"event_id": new_id("e"), "job_id": submit(), "outcome": "succeeded"}
        raw, headers = signed(report)
        call = Call("POST", "/v1/callbacks/provider", content=raw, headers=headers)
        ex.send("/v1/callbacks/provider", call, 200)

    @route("GET", "/v1/wallets/{wallet_id}/jobs")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/jobs"
        ex.send("/v1/wallets/{wallet_id}/jobs", Call("GET", path, key="read"), 200)

    @route("GET", "/v1/wallets/{wallet_id}/history")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/history"
        ex.send("/v1/wallets/{wallet_id}/history", Call("GET", path, key="read"), 200)

    # --- plans, subscriptions, purchases -------------------------------------------------------
    @route("GET", "/v1/plans")
    def _() -> None:
        ex.send("/v1/plans", Call("GET", "/v1/plans", key="read"), 200)

    @route("POST", "/v1/wallets/{wallet_id}/subscriptions")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/subscriptions"
        call = Call("POST", path, json={"plan": "starter"}, key="billing")
        answer = ex.send("/v1/wallets/{wallet_id}/subscriptions", call, 201)
        state["subscription"] = answer.json()["id"]

    @route("GET", "/v1/wallets/{wallet_id}/subscriptions")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/subscriptions"
        ex.send("/v1/wallets/{wallet_id}/subscriptions", Call("GET", path, key="read"), 200)

    @route("GET", "/v1/subscriptions/{subscription_id}")
    def _() -> None:
        path = f"/v1/subscriptions/{state['subscription']}"
        ex.send("/v1/subscriptions/{subscription_id}", Call("GET", path, key="read"), 200)

    @route("POST", "/v1/subscriptions/{subscription_id}/plan")
    def _() -> None:
        path = f"/v1/subscriptions/{state['subscription']}/plan"
        call = Call("POST", path, json={"plan": "pro"}, key="billing")
        ex.send("/v1/subscriptions/{subscription_id}/plan", call, 200)

    for action in ("past-due", "resume", "cancel"):

        @route("POST", f"/v1/subscriptions/{{subscription_id}}/{action}")
        def _(action: str = action) -> None:
            path = f"/v1/subscriptions/{state['subscription']}/{action}"
            route_path = f"/v1/subscriptions/{{subscription_id}}/{action}"
            ex.send(route_path, Call("POST", path, key="billing"), 200)

    @route("POST", "/v1/admin/tick")
    def _() -> None:
        ex.send("/v1/admin/tick", Call("POST", "/v1/admin/tick", key="admin"), 200)

    @route("POST", "/v1/wallets/{wallet_id}/purchases")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/purchases"
        for name in ("purchase", "disputed"):
            state[name] = new_id("pay")
            body = {"pack": "medium", "purchase_id": state[name]}
            call = Call("POST", path, json=body, key="billing")
            ex.send("/v1/wallets/{wallet_id}/purchases", call, 201)

    @route("GET", "/v1/purchases/{purchase_id}")
    def _() -> None:
        path = f"/v1/purchases/{state['purchase']}"
        ex.send("/v1/purchases/{purchase_id}", Call("GET", path, key="read"), 200)

    @route("POST", "/v1/purchases/{purchase_id}/refund")
    def _() -> None:
        path = f"/v1/purchases/{state['purchase']}/refund"
        ex.send("/v1/purchases/{purchase_id}/refund", Call("POST", path, key="billing"), 200)

    @route("POST", "/v1/purchases/{purchase_id}/chargeback")
    def _() -> None:
        path = f"/v1/purchases/{state['disputed']}/chargeback"
        call = Call("POST", path, json={"freeze": True}, key="billing")
        ex.send("/v1/purchases/{purchase_id}/chargeback", call, 200)

    @route("POST", "/v1/wallets/{wallet_id}/freeze")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/freeze"
        frozen = ex.send(
            "/v1/wallets/{wallet_id}/jobs",
            Call("POST", f"/v1/wallets/{state['wallet']}/jobs", json={"model": "x"}, key="billing"),
            423,
        )
        assert frozen.json()["error"]["code"] == "wallet_frozen"
        call = Call("POST", path, json={"reason": None}, key="admin")
        ex.send("/v1/wallets/{wallet_id}/freeze", call, 200)

    # --- operations, keys -------------------------------------------------------------------
    @route("POST", "/v1/admin/sweep")
    def _() -> None:
        ex.send("/v1/admin/sweep", Call("POST", "/v1/admin/sweep", key="admin"), 200)

    @route("GET", "/v1/admin/audit")
    def _() -> None:
        ex.send("/v1/admin/audit", Call("GET", "/v1/admin/audit", key="admin"), 200)

    # --- teams ---------------------------------------------------------------------------
    @route("POST", "/v1/teams")
    def _() -> None:
        state["team"] = new_id("t")
        body = {"id": state["team"], "anchor_day": 1}
        ex.send("/v1/teams", Call("POST", "/v1/teams", json=body, key="billing"), 201)
        ex.send("/v1/teams", Call("POST", "/v1/teams", json=body, key="billing"), 200)

    @route("POST", "/v1/teams/{wallet_id}/members")
    def _() -> None:
        path = f"/v1/teams/{state['team']}/members"
        body = {"member_id": "ann", "cap": 100, "seat_credits": 10}
        ex.send("/v1/teams/{wallet_id}/members", Call("POST", path, json=body, key="billing"), 200)

    @route("GET", "/v1/teams/{wallet_id}")
    def _() -> None:
        path = f"/v1/teams/{state['team']}"
        ex.send("/v1/teams/{wallet_id}", Call("GET", path, key="read"), 200)

    @route("POST", "/v1/teams/{wallet_id}/members/{member_id}/remove")
    def _() -> None:
        path = f"/v1/teams/{state['team']}/members/ann/remove"
        route_path = "/v1/teams/{wallet_id}/members/{member_id}/remove"
        ex.send(route_path, Call("POST", path, key="billing"), 200)

    # --- alerts and webhooks --------------------------------------------------------------
    @route("POST", "/v1/wallets/{wallet_id}/alerts")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/alerts"
        body = {"below": [500, 100], "depleted": True, "topup_below": 50, "topup_amount": 1000}
        route_path = "/v1/wallets/{wallet_id}/alerts"
        ex.send(route_path, Call("POST", path, json=body, key="billing"), 200)

    @route("GET", "/v1/wallets/{wallet_id}/alerts")
    def _() -> None:
        path = f"/v1/wallets/{state['wallet']}/alerts"
        ex.send("/v1/wallets/{wallet_id}/alerts", Call("GET", path, key="read"), 200)

    @route("POST", "/v1/webhooks")
    def _() -> None:
        body = {"url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef", "types": ["*"]}
        answer = ex.send("/v1/webhooks", Call("POST", "/v1/webhooks", json=body, key="admin"), 201)
        state["endpoint"] = answer.json()["id"]

    @route("GET", "/v1/webhooks")
    def _() -> None:
        ex.send("/v1/webhooks", Call("GET", "/v1/webhooks", key="admin"), 200)

    @route("POST", "/v1/admin/deliver")
    def _() -> None:
        made = Call("POST", "/v1/wallets", json={"id": new_id("w")}, key="billing")
        ex.send("/v1/wallets", made, 201)  # an event after the endpoint's registration
        ex.send("/v1/admin/deliver", Call("POST", "/v1/admin/deliver", key="admin"), 200)

    @route("GET", "/v1/webhooks/deliveries")
    def _() -> None:
        call = Call("GET", "/v1/webhooks/deliveries", params={"limit": "2"}, key="admin")
        answer = ex.send("/v1/webhooks/deliveries", call, 200)
        state["event"] = answer.json()["items"][0]["event_id"]

    @route("POST", "/v1/webhooks/{endpoint_id}/deliveries/{event_id}/redeliver")
    def _() -> None:
        path = f"/v1/webhooks/{state['endpoint']}/deliveries/{state['event']}/redeliver"
        route_path = "/v1/webhooks/{endpoint_id}/deliveries/{event_id}/redeliver"
        ex.send(route_path, Call("POST", path, key="admin"), 200)

    @route("POST", "/v1/webhooks/{endpoint_id}/enable")
    def _() -> None:
        path = f"/v1/webhooks/{state['endpoint']}/enable"
        ex.send("/v1/webhooks/{endpoint_id}/enable", Call("POST", path, key="admin"), 200)

    @route("POST", "/v1/keys")
    def _() -> None:
        body = {"name": "documented", "scopes": ["read"]}
        answer = ex.send("/v1/keys", Call("POST", "/v1/keys", json=body, key="admin"), 201)
        state["key"] = answer.json()["id"]

    @route("GET", "/v1/keys")
    def _() -> None:
        call = Call("GET", "/v1/keys", params={"include_revoked": "true"}, key="admin")
        ex.send("/v1/keys", call, 200)

    @route("POST", "/v1/keys/{key_id}/revoke")
    def _() -> None:
        path = f"/v1/keys/{state['key']}/revoke"
        ex.send("/v1/keys/{key_id}/revoke", Call("POST", path, key="admin"), 200)

    # --- payments -------------------------------------------------------------------------
    @route("POST", "/v1/webhooks/stripe")
    def _() -> None:
        event = {"id": new_id("evt"), "type": "customer.created", "created": 1, "data": {}}
        body = json.dumps(event)
        signed = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)
        call = Call("POST", "/v1/webhooks/stripe", content=body.encode())
        call.headers = {"Stripe-Signature": signed, "Content-Type": "application/json"}
        ex.send("/v1/webhooks/stripe", call, 200)
        call.headers = {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"}
        ex.send("/v1/webhooks/stripe", call, 400)

    @route("GET", "/v1/payment-events")
    def _() -> None:
        call = Call("GET", "/v1/payment-events", params={"status": "ignored"}, key="admin")
        ex.send("/v1/payment-events", call, 200)

    # --- reports ----------------------------------------------------------------------------
    @route("GET", "/v1/reports/usage")
    def _() -> None:
        call = Call("GET", "/v1/reports/usage", params={"by": "model,day"}, key="admin")
        ex.send("/v1/reports/usage", call, 200)

    @route("GET", "/v1/reports/margin")
    def _() -> None:
        call = Call("GET", "/v1/reports/margin", params={"by": "model,route"}, key="admin")
        ex.send("/v1/reports/margin", call, 200)

    @route("GET", "/v1/reports/breakage")
    def _() -> None:
        call = Call("GET", "/v1/reports/breakage", params={"days": "30"}, key="admin")
        ex.send("/v1/reports/breakage", call, 200)

    routes = list(documented_routes(app))
    missing = sorted(set(routes) - set(calls))
    assert not missing, f"routes without a documented-answer call here: {missing}"
    for method_path in calls:  # in the order above: each call may rely on the earlier ones
        calls[method_path]()
    assert ex.checked == set(routes)

    # --- some errors: documented as the one error shape -------------------------------------
    ex.send("/v1/wallets/{wallet_id}", Call("GET", f"/v1/wallets/{new_id('n')}", key="read"), 404)
    ex.send("/v1/quotes", Call("POST", "/v1/quotes", json={"model": "no/such"}), 401)
    ex.send("/v1/quotes", Call("POST", "/v1/quotes", json={"model": 1}, key="read"), 422)
    poor = new_id("w")
    ex.send("/v1/wallets", Call("POST", "/v1/wallets", json={"id": poor}, key="billing"), 201)
    call = Call("POST", f"/v1/wallets/{poor}/jobs", json=KLING_10S, key="billing")
    ex.send("/v1/wallets/{wallet_id}/jobs", call, 402)
    call = Call("POST", "/v1/admin/sweep", key="read")
    ex.send("/v1/admin/sweep", call, 403)


def test_the_check_refuses_an_answer_that_disagrees(document: dict[str, Any]) -> None:
    """The validator really resolves refs and checks: a wallet missing its fields, or a
    job's creditsUsed as text, is refused."""
    wallet_schema = {"$ref": "#/components/schemas/WalletView"}
    with pytest.raises(AssertionError, match="disagrees"):
        validate(document, wallet_schema, {"id": "w"}, "wallet")
    credits_used = {"$ref": "#/components/schemas/JobView/properties/creditsUsed"}
    validate(document, credits_used, 7, "creditsUsed")
    with pytest.raises(AssertionError, match="is not of type 'integer'"):
        validate(document, credits_used, "7", "creditsUsed")
