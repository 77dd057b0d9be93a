"""POST /v1/webhooks/stripe in-process, on SQLite and PostgreSQL: payloads signed locally with
a test secret by the stripe library's own helper (nothing goes to the network)."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from tests.api.conftest import STRIPE_SECRET, LiveService
from tests.pg import create_pg_database, drop_pg_database, pg_url

from gencredits.api import create_app
from gencredits.api.keys import KeyStore
from gencredits.config import load_settings
from gencredits.storage.sql import engine as db
from gencredits.storage.sql.schema import payment_events

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "whsec_test_" + "x" * 24
HOOK = "/v1/webhooks/stripe"


class Hook:
    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys
        self.n = 0

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def send(
        self, kind: str, obj: dict[str, Any], *, event_id: str | None = None, age_s: int = 0
    ) -> Any:
        self.n += 1
        event = {
            "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": kind,
            "created": int(time.time()) + self.n,
            "data": {"object": obj},
        }
        return self.post(json.dumps(event), age_s=age_s)

    def post(self, body: str, *, age_s: int = 0, secret: str = SECRET) -> Any:
        stamp = int(time.time()) - age_s
        header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=stamp)
        return self.client.post(
            HOOK, content=body, headers={"Stripe-Signature": header, "Content-Type": "x/json"}
        )

    def wallet(self, available: int = 0) -> str:
        wallet = f"w-{uuid.uuid4().hex[:10]}"
        made = self.client.post(
            "/v1/wallets",
            json={"id": wallet},
            headers={**self.auth("admin"), "Idempotency-Key": wallet},
        )
        assert made.status_code == 201, made.text
        return wallet

    def available(self, wallet: str) -> int:
        got = self.client.get(f"/v1/wallets/{wallet}", headers=self.auth("read"))
        return int(got.json()["available"])

    def events(self, **query: str) -> list[dict[str, Any]]:
        got = self.client.get("/v1/payment-events", params=query, headers=self.auth("admin"))
        assert got.status_code == 200, got.text
        return list(got.json()["items"])


def _service(url: str, **settings: Any) -> Iterator[Hook]:
    db.upgrade(url)
    engine = db.make_engine(url)
    keys = {s: KeyStore(engine).create(s, [s])[1] for s in ("admin", "billing", "read")}
    engine.dispose()
    app = create_app(load_settings(database_url=url, sweep_interval_s=0, **settings))
    with TestClient(app, base_url="http://testserver") as client:
        yield Hook(client, keys)


@pytest.fixture(params=["sqlite", "postgresql"])
def hook(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hook]:
    if request.param == "sqlite":
        yield from _service(f"sqlite:///{tmp_path / 'hook.db'}", stripe_webhook_secret=SECRET)
        return
    name = create_pg_database("gcstripe")
    try:
        yield from _service(pg_url(name), stripe_webhook_secret=SECRET)
    finally:
        drop_pg_database(name)


def _pack_checkout(wallet: str, pi: str, pack: str = "medium") -> dict[str, Any]:
    meta = {"wallet_id": wallet, "pack": pack}
    return {"id": f"cs_{pi}", "object": "checkout.session", "payment_intent": pi, "metadata": meta}


def _plan_checkout(wallet: str, sub: str, plan: str = "starter") -> dict[str, Any]:
    meta = {"wallet_id": wallet, "plan": plan}
    return {"id": f"cs_{sub}", "object": "checkout.session", "subscription": sub, "metadata": meta}


def test_a_pack_checkout_credits_once_and_a_refund_takes_back(hook: Hook) -> None:
    wallet = hook.wallet()
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    first = hook.send("checkout.session.completed", _pack_checkout(wallet, pi), event_id="evt_a1")
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["status"], body["outcome"], body["result_id"]) == ("applied", "purchased", pi)
    assert hook.available(wallet) == 2200
    again = hook.send("checkout.session.completed", _pack_checkout(wallet, pi), event_id="evt_a1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert hook.available(wallet) == 2200  # the same event twice moves nothing
    part = {"id": "ch_1", "payment_intent": pi, "refunded": False, "amount_refunded": 100}
    partial = hook.send("charge.refunded", part)
    assert partial.json()["outcome"] == "partial_refund" and hook.available(wallet) == 2200
    refund = hook.send("charge.refunded", {**part, "refunded": True})
    assert refund.json()["status"] == "applied" and hook.available(wallet) == 0
    state = hook.client.get(f"/v1/purchases/{pi}", headers=hook.auth("read")).json()
    assert (state["state"], state["taken_back"]) == ("refunded", 2200)
    assert [e["event_type"] for e in hook.events(wallet_id=wallet)] == [
        "charge.refunded",
        "checkout.session.completed",
    ]


def test_a_lost_record_replays_the_ledger_and_moves_nothing_again(hook: Hook) -> None:
    """A crash between the ledger's commit and the event's record: Stripe redelivers, the
    ledger's idempotency record (key stripe:<event id>) answers, nothing moves twice (a
    subscription has no natural key of its own: only the event id's record stops a second)."""
    wallet = hook.wallet()
    sub, evt = f"sub_{uuid.uuid4().hex[:12]}", f"evt_{uuid.uuid4().hex[:12]}"
    first = hook.send("checkout.session.completed", _plan_checkout(wallet, sub), event_id=evt)
    engine = hook.client.app.state.services.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(payment_events.delete().where(payment_events.c.event_id == evt))
    again = hook.send("checkout.session.completed", _plan_checkout(wallet, sub), event_id=evt)
    assert again.json()["status"] == "applied" and again.json()["duplicate"] is False
    assert again.json()["result_id"] == first.json()["result_id"]
    assert hook.available(wallet) == 1250
    subs = hook.client.get(f"/v1/wallets/{wallet}/subscriptions", headers=hook.auth("read"))
    assert len(subs.json()["items"]) == 1


def test_a_dispute_charges_back_and_freezes_the_wallet(hook: Hook) -> None:
    wallet = hook.wallet()
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    hook.send("checkout.session.completed", _pack_checkout(wallet, pi, "small"))
    dispute = hook.send("charge.dispute.created", {"id": "dp_1", "payment_intent": pi})
    assert dispute.json()["status"] == "applied", dispute.text
    assert hook.available(wallet) == 0
    got = hook.client.get(f"/v1/wallets/{wallet}", headers=hook.auth("read")).json()
    assert got["frozen"]


def test_a_refund_before_its_purchase_waits_then_applies(hook: Hook) -> None:
    wallet = hook.wallet()
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    early = hook.send("charge.refunded", {"id": "ch_2", "payment_intent": pi}, event_id="evt_r")
    assert early.status_code == 200
    assert (early.json()["status"], early.json()["outcome"]) == ("pending", "unknown_purchase")
    paid = hook.send("checkout.session.completed", _pack_checkout(wallet, pi))
    assert paid.json()["status"] == "applied"
    assert hook.available(wallet) == 0  # the waiting refund was applied right after
    [refund] = [e for e in hook.events() if e["event_id"] == "evt_r"]
    assert (refund["status"], refund["wallet_id"]) == ("applied", wallet)


def test_a_subscription_lifecycle_from_stripe_events(hook: Hook) -> None:
    wallet = hook.wallet()
    sub = f"sub_{uuid.uuid4().hex[:12]}"
    invoice = {"id": "in_1", "object": "invoice", "subscription": sub}
    early = hook.send("invoice.payment_failed", invoice)
    assert early.json()["status"] == "pending"  # out of order: waits for the checkout
    started = hook.send("checkout.session.completed", _plan_checkout(wallet, sub))
    ours = started.json()["result_id"]
    assert started.json()["status"] == "applied" and hook.available(wallet) == 1250
    read = hook.client.get(f"/v1/subscriptions/{ours}", headers=hook.auth("read")).json()
    assert read["state"] == "past_due"  # the waiting failure was applied
    paid = hook.send("invoice.paid", {**invoice, "id": "in_2"})
    assert paid.json()["outcome"] == "resumed", paid.text
    up = hook.send(
        "customer.subscription.updated",
        {"id": sub, "object": "subscription", "metadata": {"plan": "pro"}},
    )
    assert up.json()["outcome"] == "plan_immediate", up.text
    gone = hook.send("customer.subscription.deleted", {"id": sub, "object": "subscription"})
    assert gone.json()["outcome"] == "cancelled"
    read = hook.client.get(f"/v1/subscriptions/{ours}", headers=hook.auth("read")).json()
    assert (read["plan"], read["state"]) == ("pro", "cancelled")


def test_unknown_wallet_and_unknown_type_are_recorded_with_nothing_moved(hook: Hook) -> None:
    missing = hook.send("checkout.session.completed", _pack_checkout("nobody-here", "pi_zz"))
    assert missing.status_code == 200
    assert (missing.json()["status"], missing.json()["outcome"]) == ("ignored", "unknown_wallet")
    other = hook.send("customer.created", {"id": "cus_1"})
    assert (other.json()["status"], other.json()["outcome"]) == ("ignored", "unhandled_type")
    one_off = hook.send("invoice.paid", {"id": "in_one_off", "object": "invoice"})
    assert (one_off.json()["status"], one_off.json()["outcome"]) == ("ignored", "no_subscription")
    miss = hook.client.get("/v1/purchases/pi_zz", headers=hook.auth("read"))
    assert miss.status_code == 404
    assert {e["outcome"] for e in hook.events(status="ignored")} == {
        "unknown_wallet",
        "unhandled_type",
        "no_subscription",
    }


def test_bad_or_old_signatures_are_400_and_record_nothing(hook: Hook) -> None:
    wallet = hook.wallet()
    body = json.dumps(
        {
            "id": "evt_bad",
            "type": "checkout.session.completed",
            "data": {"object": _pack_checkout(wallet, "pi_bad")},
        }
    )
    for answer in (
        hook.post(body, secret="whsec_other"),
        hook.post(body, age_s=3600),
        hook.client.post(HOOK, content=body),
        hook.client.post(HOOK, content=body, headers={"Stripe-Signature": "t=1,v1=00"}),
    ):
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "invalid_signature"
    old = hook.post(body, age_s=3600).json()["error"]
    assert "tolerance" in old["message"] and old["details"]["tolerance_s"] == 300
    assert hook.events() == [] and hook.available(wallet) == 0
    assert hook.client.get("/v1/payment-events", headers=hook.auth("billing")).status_code == 403


def test_without_a_secret_the_webhook_answers_503(tmp_path: Path) -> None:
    for h in _service(f"sqlite:///{tmp_path / 'nosecret.db'}"):
        answer = h.post(json.dumps({"id": "evt_1", "type": "x"}))
        assert answer.status_code == 503
        assert "stripe_webhook_secret" in answer.json()["error"]["message"]


def test_the_cli_lists_recorded_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from gencredits.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for h in _service(url, stripe_webhook_secret=SECRET):
        wallet = h.wallet()
        h.send("checkout.session.completed", _pack_checkout(wallet, "pi_cli"), event_id="evt_c")
        h.send("customer.created", {"id": "cus_2"}, event_id="evt_x")
    monkeypatch.delenv("GENCREDITS_URL", raising=False)
    runner = CliRunner()
    listed = runner.invoke(app, ["--database-url", url, "payments", "events", "--json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)["items"]
    assert {(e["event_id"], e["status"]) for e in items} == {
        ("evt_c", "applied"),
        ("evt_x", "ignored"),
    }
    args = ["--database-url", url, "payments", "events", "--status", "applied", "--json"]
    only = json.loads(runner.invoke(app, args).stdout)["items"]
    assert [e["event_id"] for e in only] == ["evt_c"]
    bad = runner.invoke(app, ["--database-url", url, "payments", "events", "--status", "nope"])
    assert bad.exit_code != 0 and "status: 'nope'" in str(bad.exception)  # main() prints it
    table = runner.invoke(app, ["--database-url", url, "payments", "events"])
    assert "evt_c" in table.output and "purchased" in table.output


def test_the_live_service_over_the_client_and_the_remote_cli(
    live: LiveService, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real service (its secret from the environment): a signed event over HTTP, then
    the record through Client.payment_events and `gencredits --url ... payments events`."""
    import httpx
    from typer.testing import CliRunner

    from gencredits.cli import app
    from gencredits.client import Client

    wallet = f"live-{uuid.uuid4().hex[:8]}"
    evt = f"evt_{uuid.uuid4().hex[:12]}"
    with Client(live.url, keys["admin"]) as admin:
        admin.create_wallet(wallet)
        event = {
            "id": evt,
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {"object": _pack_checkout(wallet, f"pi_{evt}", "small")},
        }
        body = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)
        sent = httpx.post(live.url + HOOK, content=body, headers={"Stripe-Signature": header})
        assert sent.status_code == 200 and sent.json()["status"] == "applied", sent.text
        assert admin.get_wallet(wallet).available == 500
        [seen] = admin.payment_events(wallet_id=wallet).items
        assert (seen.event_id, seen.outcome) == (evt, "purchased")
    monkeypatch.delenv("GENCREDITS_URL", raising=False)
    args = ["--url", live.url, "--api-key", keys["admin"], "payments", "events"]
    listed = CliRunner().invoke(app, [*args, "--wallet", wallet, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [e["event_id"] for e in json.loads(listed.stdout)["items"]] == [evt]


def test_the_same_event_delivered_at_once_by_eight_threads_moves_credits_once(
    hook: Hook,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from gencredits.api.payments import PaymentEventStore
    from gencredits.api.stripe_webhook import StripeWebhook

    services = hook.client.app.state.services  # type: ignore[attr-defined]
    wallet = hook.wallet()
    sub = f"sub_{uuid.uuid4().hex[:12]}"
    event = {
        "id": f"evt_{sub}",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {"object": _plan_checkout(wallet, sub, "pro")},
    }

    def deliver(_: int) -> str:
        hooked = StripeWebhook(services.billing, PaymentEventStore(services.engine))
        return str(hooked.handle(event).result_id)

    with ThreadPoolExecutor(8) as pool:
        results = set(pool.map(deliver, range(8)))
    assert len(results) == 1
    assert hook.available(wallet) == 4500  # pro: 4,000 a month + 500 bonus, once
    subs = hook.client.get(f"/v1/wallets/{wallet}/subscriptions", headers=hook.auth("read"))
    assert len(subs.json()["items"]) == 1
    assert [e["event_id"] for e in hook.events(wallet_id=wallet)] == [event["id"]]


def _refunded(pi: str, refunded: int, *, full: bool = False) -> dict[str, Any]:
    """A charge.refunded object of the medium pack (18.00): ``refunded`` cents so far."""
    return {
        "id": f"ch_{pi}",
        "object": "charge",
        "payment_intent": pi,
        "amount": 1800,
        "amount_refunded": refunded,
        "refunded": full,
    }


def test_partial_refunds_take_back_their_share_then_a_full_one_the_rest(hook: Hook) -> None:
    """A quarter, then half (cumulative: a quarter more), the half again (a new event id:
    nothing), the quarter late (out of order: nothing), the same event twice, then the
    whole: 2,000 credits + 200 bonus go back in steps of 550, 550 and 1,100."""
    wallet = hook.wallet()
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    hook.send("checkout.session.completed", _pack_checkout(wallet, pi))
    first = hook.send("charge.refunded", _refunded(pi, 450), event_id=f"evt_q_{pi}")
    assert (first.json()["status"], first.json()["outcome"]) == ("applied", "partially_refunded")
    assert hook.available(wallet) == 1650
    twice = hook.send("charge.refunded", _refunded(pi, 450), event_id=f"evt_q_{pi}")
    assert twice.json()["duplicate"] is True and hook.available(wallet) == 1650
    hook.send("charge.refunded", _refunded(pi, 900))
    assert hook.available(wallet) == 1100
    for late in (_refunded(pi, 900), _refunded(pi, 450)):
        moved = hook.send("charge.refunded", late)
        assert moved.json()["outcome"] == "already_refunded_to_share"
        assert hook.available(wallet) == 1100
    full = hook.send("charge.refunded", _refunded(pi, 1800, full=True))
    assert (full.json()["status"], full.json()["outcome"]) == ("applied", "refunded")
    assert hook.available(wallet) == 0
    state = hook.client.get(f"/v1/purchases/{pi}", headers=hook.auth("read")).json()
    assert (state["state"], state["taken_back"], state["spent"]) == ("refunded", 2200, 0)
    after = hook.send("charge.refunded", _refunded(pi, 900))
    assert after.json()["outcome"] == "already_refunded" and hook.available(wallet) == 0


def test_a_partial_refund_over_http_and_a_bad_amount(hook: Hook) -> None:
    """The provider-neutral route takes the same cumulative amount; a bad one is a 422
    naming the field, and nothing moves."""
    wallet = hook.wallet()
    pi = f"pi_{uuid.uuid4().hex[:12]}"
    hook.send("checkout.session.completed", _pack_checkout(wallet, pi))
    path = f"/v1/purchases/{pi}/refund"

    def refund(body: dict[str, Any] | None, key: str) -> Any:
        headers = {**hook.auth("billing"), "Idempotency-Key": key}
        return hook.client.post(path, json=body, headers=headers)

    bad = refund({"amount": "20.00"}, "bad")
    assert bad.status_code == 422 and "amount" in bad.text
    half = refund({"amount": "9.00"}, "half")
    assert half.status_code == 200, half.text
    assert (half.json()["taken_back"], hook.available(wallet)) == (1100, 1100)
    assert refund({"amount": "9"}, "half").json()["replayed"] is True
    assert refund(None, "rest").json()["state"] == "refunded" and hook.available(wallet) == 0
