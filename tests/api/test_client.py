"""The Python client against the live service: typed answers equal to the library's, the
library's own exception classes, and retries that reuse one idempotency key."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.api.conftest import LiveService

import gencredits
from gencredits import errors
from gencredits.client import AsyncClient, Client
from gencredits.pricing import CatalogSet, quote

CATALOG = CatalogSet.bundled()["api-pricing"]


def test_quote_and_listings_are_typed_and_exact(live: LiveService, keys: dict[str, str]) -> None:
    with Client(live.url, keys["read"]) as gc:
        q = gc.quote("sora-2-text-to-video", {"duration": 8}, generations=2, catalog="api-pricing")
        expected = quote(CATALOG, "sora-2-text-to-video", {"duration": 8}, 2)
        assert (q.unit_credits, q.total_credits, q.catalog_hash) == (
            expected.unit_credits,
            expected.total_credits,
            expected.catalog_hash,
        )
        assert isinstance(q.total_credits, int)
        assert "api-pricing" in {c.name for c in gc.catalogs().items}
        assert gc.model("kling/v2-1-pro", catalog="api-pricing").base_credits == (
            quote(CATALOG, "kling/v2-1-pro").base_credits
        )
        cap = gc.capacity(100, "veo3_fast", catalog="api-pricing")
        assert cap.capacity == 100 // cap.quote.total_credits
        assert gc.ready().status == "ok"


@pytest.mark.parametrize(
    ("call", "error_class", "code"),
    [
        (lambda gc: gc.quote("kling/v2-1-pro", {"duration": 7}, catalog="api-pricing"),
         errors.ValueNotOffered, "value_not_offered"),
        (lambda gc: gc.quote("no-such-model"), errors.UnknownModel, "unknown_model"),
        (lambda gc: gc.catalog("nope"), errors.UnknownCatalog, "unknown_catalog"),
        (lambda gc: gc.quote("veo3_fast", generations=0), errors.InvalidRequest,
         "invalid_request"),
    ],
)  # fmt: skip
def test_errors_are_the_library_exception_classes(
    live: LiveService, keys: dict[str, str], call: object, error_class: type, code: str
) -> None:
    with Client(live.url, keys["read"]) as gc, pytest.raises(error_class) as caught:
        call(gc)  # type: ignore[operator]
    assert caught.value.code == code
    assert isinstance(caught.value, gencredits.GencreditsError)


def test_a_bad_key_raises_authentication_failed(live: LiveService) -> None:
    with Client(live.url, "gck_wrong") as gc, pytest.raises(errors.AuthenticationFailed):
        gc.catalogs()


def test_the_async_client_gives_the_same_answers(live: LiveService, keys: dict[str, str]) -> None:
    async def run() -> tuple[int, int]:
        async with AsyncClient(live.url, keys["read"]) as gc:
            q = await gc.quote("veo3", catalog="api-pricing")
            try:
                await gc.quote("veo3", {"duration": "forever"}, catalog="api-pricing")
            except errors.InvalidRequest as exc:
                assert exc.details["field"] == "duration"
            else:
                raise AssertionError("an invalid duration was accepted")
            return q.total_credits, len((await gc.models("api-pricing")).items)

    total, count = asyncio.run(run())
    assert total == quote(CATALOG, "veo3").total_credits
    assert count == len(CATALOG.models)


def test_retries_reuse_one_idempotency_key_and_stop_at_the_limit() -> None:
    seen: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        if len(seen) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(seen) == 2:
            return httpx.Response(
                503, json={"error": {"code": "unavailable", "message": "down", "details": {}}}
            )
        return httpx.Response(200, json=quote(CATALOG, "veo3").to_dict())

    with Client("http://gencredits.test", "k", transport=httpx.MockTransport(flaky)) as gc:
        assert gc.quote("veo3").total_credits == quote(CATALOG, "veo3").total_credits
    assert len(seen) == 3 and len(set(seen)) == 1

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        Client("http://gencredits.test", "k", transport=httpx.MockTransport(down), retries=2) as gc,
        pytest.raises(errors.Unavailable),
    ):
        gc.catalogs()


def test_insufficient_credits_keeps_required_available_shortfall() -> None:
    body = {"error": {"code": "insufficient_credits", "message": "insufficient credits",
                      "details": {"required": 42, "available": 40, "shortfall": 2}}}  # fmt: skip

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(402, json=body)

    with (
        Client("http://gencredits.test", "k", transport=httpx.MockTransport(answer)) as gc,
        pytest.raises(errors.InsufficientCredits) as caught,
    ):
        gc.quote("veo3")
    assert (caught.value.required, caught.value.available, caught.value.shortfall) == (42, 40, 2)


def test_the_whole_credit_flow_through_the_client(live: LiveService, keys: dict[str, str]) -> None:
    import uuid

    wallet = f"cw-{uuid.uuid4().hex[:10]}"
    price = quote(CATALOG, "kling/v2-1-pro", {"duration": 10}).total_credits
    with Client(live.url, keys["billing"]) as gc:
        gc.create_wallet(wallet, owner_kind="team")
        gc.grant(wallet, 2 * price, kind="allowance", idempotency_key=f"{wallet}-allowance")
        again = gc.grant(wallet, 2 * price, kind="allowance", idempotency_key=f"{wallet}-allowance")
        assert again.replayed and gc.wallet(wallet).available == 2 * price  # credited once

        job = gc.submit(
            wallet, "kling/v2-1-pro", {"duration": 10}, catalog="api-pricing",
            idempotency_key=f"{wallet}-gen-1",
        )  # fmt: skip
        assert (job.status, job.creditsUsed) == (0, price)
        retried = gc.submit(
            wallet, "kling/v2-1-pro", {"duration": 10}, catalog="api-pricing",
            idempotency_key=f"{wallet}-gen-1",
        )  # fmt: skip
        assert retried.id == job.id and retried.replayed
        assert gc.wallet(wallet).held == price

        second = gc.submit(wallet, "kling/v2-1-pro", {"duration": 10}, catalog="api-pricing")
        with pytest.raises(errors.InsufficientCredits) as caught:
            gc.submit(wallet, "kling/v2-1-pro", {"duration": 10}, catalog="api-pricing")
        assert (caught.value.required, caught.value.available) == (price, 0)

        assert gc.complete(job.id).status == 1
        assert gc.fail(second.id, reason="provider down").status == 2
        with pytest.raises(errors.NotFound):
            gc.job("job_missing")
        assert [j.id for j in gc.jobs(wallet, status=1).items] == [job.id]
        kinds = [e.kind for e in gc.history(wallet, limit=500).items]
        assert len(kinds) >= 5
        assert gc.wallet(wallet).available == price
        with pytest.raises(errors.PermissionDenied):
            gc.audit()  # a billing key is not an admin key
    with Client(live.url, keys["admin"]) as admin:
        assert admin.audit().clean


def test_remote_billing_answers_like_the_library(live: LiveService, keys: dict[str, str]) -> None:
    import uuid

    from gencredits.cli.service import open_billing
    from gencredits.client import RemoteBilling

    billing = open_billing(live.url, keys["billing"])
    assert isinstance(billing, RemoteBilling)
    wallet = f"rb-{uuid.uuid4().hex[:10]}"
    try:
        billing.create_wallet(wallet)
        billing.grant(wallet, 100, kind="purchase", idempotency_key="buy-1")
        job = billing.submit(wallet, "veo3", catalog="api-pricing", idempotency_key="g-1")
        done = billing.complete(job.id, idempotency_key="g-1-done")
        served = httpx.get(
            f"{live.url}/v1/jobs/{job.id}", headers={"Authorization": f"Bearer {keys['billing']}"}
        ).json()
        assert done.to_dict() == {**served, "replayed": False, "outcome": done.outcome}
        assert billing.get_wallet(wallet).available == 100 - done.creditsUsed
        assert [g.kind for g in billing.list_grants(wallet)] == ["purchase"]
        assert len(billing.history(wallet).items) >= 3
        with pytest.raises(errors.InvalidRequest):
            billing.sweep(now=object())  # type: ignore[arg-type]
    finally:
        billing.close()


def test_keys_are_managed_over_http_by_admins(live: LiveService, keys: dict[str, str]) -> None:
    with Client(live.url, keys["admin"]) as admin:
        made = admin.create_key("dashboard", ["read"])
        assert made.key.startswith(made.prefix) and made.scopes == ["read"]
        listed = admin.keys().items
        assert made.id in {k.id for k in listed}
        assert all("key" not in k.to_dict() for k in listed)  # never shown again
        with Client(live.url, made.key) as dashboard:
            assert dashboard.catalogs().items
            with pytest.raises(errors.PermissionDenied):
                dashboard.create_key("escalate", ["admin"])
            assert admin.revoke_key(made.id).revoked_at is not None
            with pytest.raises(errors.AuthenticationFailed):
                dashboard.catalogs()  # refused at once by this (single-worker) service
        assert made.id not in {k.id for k in admin.keys().items}
        assert made.id in {k.id for k in admin.keys(include_revoked=True).items}
        with pytest.raises(errors.NotFound):
            admin.revoke_key("key_missing")
