"""The Python client against the live service: typed answers equal to the library's, the
library's own exception classes, and retries that reuse one idempotency key."""

from __future__ import annotations

import asyncio
import re
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import LiveService

import gencredits
from gencredits import errors
from gencredits.billing import (
    Billing,
    BillingAPI,
    EntryView,
    GrantView,
    JobView,
    Page,
    SweepReport,
    WalletView,
)
from gencredits.client import AsyncClient, Client, RetryPolicy
from gencredits.pricing import CatalogSet, quote

CATALOG = CatalogSet.bundled()["api-pricing"]
PRICE_FAST = quote(CATALOG, "veo3_fast").total_credits


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


def test_what_is_retried_and_how_long_it_waits() -> None:
    calls: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.headers.get("Idempotency-Key")))
        status = 500 if request.url.path == "/v1/catalogs" else 503
        return httpx.Response(status, json={"error": {"code": "x", "message": "x", "details": {}}})

    with Client("http://gencredits.test", "k", transport=httpx.MockTransport(answer)) as gc:
        with pytest.raises(errors.GencreditsError):
            gc.catalogs()  # a 500 is an answer, not a failure in transit: not retried
        assert len(calls) == 1
        calls.clear()
        assert gc.request("PUT", "/v1/x").status_code == 503  # no key: never sent twice
        assert calls == [("PUT", None)]
        calls.clear()
        with pytest.raises(errors.Unavailable):
            gc.sweep()
        assert len(calls) == 4 and len({key for _, key in calls}) == 1
        assert calls[0][1] is not None and calls[0][1].startswith("py-")
    policy = RetryPolicy(retries=6)
    request = httpx.Request("GET", "http://gencredits.test/")
    down = httpx.ConnectError("refused")
    assert [policy.delay_s(request, n, down) for n in range(7)] == [
        0.1, 0.2, 0.4, 0.8, 1.6, 2.0, None
    ]  # fmt: skip


def test_the_async_client_retries_under_one_key_too() -> None:
    seen: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        if len(seen) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"holds_released": 1, "more": False})

    async def run() -> SweepReport:
        transport = httpx.MockTransport(flaky)
        async with AsyncClient("http://gencredits.test", "k", transport=transport) as gc:
            return await gc.sweep()

    assert asyncio.run(run()).holds_released == 1
    assert len(seen) == 2 and seen[0] == seen[1]


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
        assert admin.audit() == []


def flow(api: BillingAPI, wallet: str) -> list[object]:
    """The same short credit flow on any ``BillingAPI``: every answer, ids and instants aside."""
    answers: list[object] = [
        api.create_wallet(wallet, owner_kind="team"),
        api.grant(wallet, 100, kind="purchase", idempotency_key=f"{wallet}-buy"),
    ]
    job = api.submit(
        wallet,
        "veo3_fast",
        {"duration": 8},
        catalog="api-pricing",
        submitted_by="member-7",  # else the service names the API key
        idempotency_key=f"{wallet}-g1",
    )
    answers += [
        job,
        api.complete(job.id, idempotency_key=f"{wallet}-g1-done"),
        api.get_job(job.id),
        api.get_wallet(wallet),
        api.list_grants(wallet),
        api.list_jobs(wallet),
        api.list_jobs(wallet, status=0),
        api.history(wallet),
    ]
    return [_comparable(a) for a in answers]


_ID = re.compile(r"\b(job|gr|grant|tx|wal|w)_[0-9A-Za-z]+")
_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT[0-9:.]+Z$")


def _comparable(answer: object) -> object:
    if isinstance(answer, list):
        return [_comparable(a) for a in answer]
    if isinstance(answer, dict):
        # ids, and a ledger entry's place in the store's global sequence, differ by store
        skip = ("id", "seq")
        return {k: _comparable(v) for k, v in answer.items() if k not in skip and k[-3:] != "_id"}
    if isinstance(answer, str):
        return "<instant>" if _INSTANT.match(answer) else _ID.sub(r"\1_<id>", answer)
    if hasattr(answer, "to_dict"):
        return _comparable(answer.to_dict())
    return answer


def test_billing_and_the_client_answer_the_same_flow_alike(
    live: LiveService, keys: dict[str, str], tmp_path: Path
) -> None:
    wallet = f"flow-{uuid.uuid4().hex[:10]}"
    billing = Billing.from_url(f"sqlite:///{tmp_path / 'flow.db'}")
    try:
        local = flow(billing, wallet)
    finally:
        billing.close()
    with Client(live.url, keys["billing"]) as client:
        remote = flow(client, wallet)
    assert remote == local
    job, done = local[2], local[3]
    assert isinstance(job, dict) and isinstance(done, dict)
    assert (job["status"], done["status"], done["creditsUsed"]) == (0, 1, PRICE_FAST)


def test_the_client_answers_the_wire_types(live: LiveService, keys: dict[str, str]) -> None:
    wallet = f"wt-{uuid.uuid4().hex[:10]}"
    with Client(live.url, keys["billing"]) as gc:
        assert isinstance(gc.create_wallet(wallet), WalletView)
        grant = gc.grant(wallet, 50, kind="bonus")
        assert isinstance(grant, GrantView) and grant.remaining == 50
        assert (
            gc.list_grants(wallet).items
            == gc.grants(wallet).items
            == [grant.model_copy(update={"outcome": None})]
        )
        job = gc.submit(wallet, "veo3_fast", catalog="api-pricing")
        assert isinstance(job, JobView) and job.creditsUsed == PRICE_FAST
        listed = job.model_copy(update={"outcome": None})  # "held" answers the submission
        page = gc.list_jobs(wallet)
        assert isinstance(page, Page) and page.items == [listed] and page.next_cursor is None
        assert gc.jobs(wallet) == page and gc.job(job.id) == gc.get_job(job.id) == listed
        assert gc.wallet(wallet) == gc.get_wallet(wallet)
        assert wallet in {w.id for w in gc.list_wallets(limit=500).items}
        assert gc.cancel(job.id).state == "cancelled"
        assert gc.void_grant(grant.id).state == "voided"
        assert all(isinstance(e, EntryView) for e in gc.history(wallet).items)
    with Client(live.url, keys["admin"]) as admin:
        assert isinstance(admin.sweep(), SweepReport)
        assert admin.audit() == []


def test_the_async_client_speaks_billing_as_coroutines(
    live: LiveService, keys: dict[str, str]
) -> None:
    wallet = f"aw-{uuid.uuid4().hex[:10]}"

    async def run() -> tuple[JobView, list[GrantView], Page[EntryView]]:
        async with AsyncClient(live.url, keys["billing"]) as gc:
            await gc.create_wallet(wallet)
            await gc.grant(wallet, 40, kind="purchase", idempotency_key=f"{wallet}-buy")
            job = await gc.submit(wallet, "veo3_fast", catalog="api-pricing")
            done = await gc.complete(job.id)
            assert (await gc.get_job(job.id)).state == done.state == "succeeded"
            assert (await gc.jobs(wallet)).items[0].id == job.id
            return done, (await gc.list_grants(wallet)).items, await gc.history(wallet)

    done, grants, history = asyncio.run(run())
    assert done.creditsUsed == PRICE_FAST
    assert [g.remaining for g in grants] == [40 - PRICE_FAST]
    assert [e.kind for e in history.items] == ["capture", "hold", "grant"]
    with Client(live.url, keys["billing"]) as gc:
        assert gc.get_job(done.id) == done.model_copy(update={"outcome": None})


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


def test_a_completion_is_checked_and_capped_and_keys_of_one_platform_share_retries(
    live: LiveService, keys: dict[str, str]
) -> None:
    """Issue #11: a completion past the model's limits is refused (422, nothing moves); by
    default one costing more charges the hold and writes the rest off; the same submission
    sent with another billing key of the platform replays, and a changed one conflicts
    naming what differs and the job the key holds."""
    wallet = f"cc-{uuid.uuid4().hex[:10]}"
    other_key = live.make_key("billing", name="billing-2")
    with Client(live.url, keys["billing"]) as gc, Client(live.url, other_key) as gc2:
        gc.create_wallet(wallet)
        gc.grant(wallet, 10 * PRICE_FAST, kind="purchase", idempotency_key=f"{wallet}-buy")
        job = gc.submit(wallet, "veo3_fast", catalog="api-pricing", idempotency_key=f"{wallet}-s")
        again = gc2.submit(
            wallet, "veo3_fast", catalog="api-pricing", idempotency_key=f"{wallet}-s"
        )
        assert (again.id, again.replayed) == (job.id, True)
        with pytest.raises(errors.IdempotencyConflict) as conflict:
            gc2.submit(
                wallet, "veo3_fast", generations=2, catalog="api-pricing",
                idempotency_key=f"{wallet}-s",
            )  # fmt: skip
        assert conflict.value.details["differs"] == ["generations"]
        assert conflict.value.details["result_id"] == job.id
        before = gc.wallet(wallet)
        with pytest.raises(errors.ValueNotOffered) as refused:
            gc.complete(job.id, actual_generations=1000, idempotency_key=f"{wallet}-c")
        assert refused.value.details["field"] == "actual_generations"
        assert gc.wallet(wallet).model_dump(exclude={"updated_at"}) == before.model_dump(
            exclude={"updated_at"}
        )
        done = gc.complete(job.id, actual_generations=2, idempotency_key=f"{wallet}-c")
        assert (done.credits_used, done.written_off, done.outcome) == (
            PRICE_FAST,
            PRICE_FAST,
            "extra_written_off",
        )
        assert gc.wallet(wallet).available == 9 * PRICE_FAST


def test_a_wallet_created_over_http_can_allow_extra_charges(
    live: LiveService, keys: dict[str, str]
) -> None:
    """The per-wallet share travels over HTTP (as decimal text from the client, or a JSON
    number from anyone): with a share of 1, a completion of two generations on a job held for
    one is charged both."""
    wallet = f"xs-{uuid.uuid4().hex[:10]}"
    with Client(live.url, keys["billing"]) as gc:
        view = gc.create_wallet(wallet, extra_charge_share=Decimal(1))
        assert view.extra_charge_share == Decimal(1)
        gc.grant(wallet, 10 * PRICE_FAST, kind="purchase", idempotency_key=f"{wallet}-buy")
        job = gc.submit(wallet, "veo3_fast", catalog="api-pricing", idempotency_key=f"{wallet}-s")
        done = gc.complete(job.id, actual_generations=2, idempotency_key=f"{wallet}-c")
        assert (done.credits_used, done.written_off, done.outcome) == (
            2 * PRICE_FAST,
            0,
            "charged_extra",
        )
        raw = gc.request(
            "POST", "/v1/wallets", json={"id": f"{wallet}-n", "extra_charge_share": 0.25}
        )
        assert raw.status_code == 201, raw.text
        assert Decimal(raw.json()["extra_charge_share"]) == Decimal("0.25")
        bad = gc.request(
            "POST", "/v1/wallets", json={"id": f"{wallet}-b", "extra_charge_share": "0.1234567"}
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["details"]["field"] == "extra_charge_share"
