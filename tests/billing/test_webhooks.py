"""Outbound webhooks on every store, to a local receiver: signed deliveries of alerts,
retries with backoff (ManualClock), the delivery log, redelivery with the same event id,
endpoints disabled after repeated failure, two deliverers never posting one delivery twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from tests.webhook_receiver import Receiver, receiver

from gencredits.billing import Billing
from gencredits.errors import InvalidRequest
from gencredits.webhooks import Deliverer, DeliveryPolicy, verify

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _low_balance(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    billing.set_alerts("w", below=[50])
    billing.submit("w", "img", generations=3, idempotency_key="s1")  # 70
    billing.submit("w", "img", generations=3, idempotency_key="s2")  # 40: crossed


def test_an_alert_is_delivered_signed_once(billing: Billing, clock: Any, hook: Receiver) -> None:
    billing.add_webhook(hook.url, SECRET, wallet_id="w", types=["alert.balance_below"])
    _low_balance(billing)
    deliverer = Deliverer(billing)
    assert deliverer.run_once().delivered == 1
    assert deliverer.run_once().delivered == 0  # nothing new, nothing again
    (got,) = hook.received
    now = int(clock.now().timestamp())
    assert verify(SECRET, got.headers["Gencredits-Signature"], got.body, now=now)
    assert not verify(
        "another-secret-0123456", got.headers["Gencredits-Signature"], got.body, now=now
    )
    body = json.loads(got.body)
    assert (body["type"], body["payload"]["level"], body["subject_id"]) == (
        "alert.balance_below",
        50,
        "w:below-50:1",
    )
    assert got.headers["Gencredits-Event-Id"] == body["id"]


def test_a_webhook_delivered_twice_carries_the_same_event_id(
    billing: Billing, clock: Any, hook: Receiver
) -> None:
    """The receiver answers 500 first: the retry, after its backoff, sends the same body and
    event id, so a receiver that saw the first (and failed after) drops the repeat; a
    redelivery from the log does the same."""
    endpoint = billing.add_webhook(hook.url, SECRET, types=["alert.balance_below"])
    _low_balance(billing)
    hook.answers = [500]
    deliverer = Deliverer(billing, DeliveryPolicy(backoff_base_s=30))
    assert deliverer.run_once().retrying == 1
    clock.advance(29)
    assert deliverer.run_once().delivered == 0  # not yet due
    clock.advance(1)
    assert deliverer.run_once().delivered == 1
    first, second = hook.received
    assert first.body == second.body
    assert hook.event_ids()[0] == hook.event_ids()[1]
    assert [r.headers["Gencredits-Delivery-Attempt"] for r in hook.received] == ["1", "2"]
    (logged,) = billing.webhook_deliveries(endpoint.id).items
    assert (logged.status, logged.attempts, logged.last_status) == ("delivered", 2, 200)
    billing.redeliver(endpoint.id, logged.event_id)
    assert deliverer.run_once().delivered == 1
    assert len(set(hook.event_ids())) == 1 and len(hook.received) == 3


def test_an_endpoint_is_disabled_after_repeated_failures(
    billing: Billing, clock: Any, hook: Receiver
) -> None:
    endpoint = billing.add_webhook(hook.url, SECRET, types=["*"])
    billing.create_wallet("w")
    hook.answers = [503] * 10
    policy = DeliveryPolicy(backoff_base_s=1, backoff_max_s=1, disable_after=3, max_attempts=5)
    deliverer = Deliverer(billing, policy)
    for _ in range(4):
        deliverer.run_once()
        clock.advance(2)
    (shown,) = billing.list_webhooks()
    assert (shown.active, shown.failures) == (False, 3)
    assert len(hook.received) == 3  # nothing posted to a disabled endpoint
    billing.enable_webhook(endpoint.id)
    hook.answers = []
    assert deliverer.run_once().delivered == 1
    assert billing.list_webhooks()[0].failures == 0


def test_derived_alerts_purchase_credited_and_job_refunded(
    billing: Billing, clock: Any, hook: Receiver
) -> None:
    billing.add_webhook(hook.url, SECRET, types=["alert.purchase_credited", "alert.job_refunded"])
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    billing.grant("w", 5, kind="promotional", idempotency_key="p")
    job = billing.submit("w", "img", idempotency_key="s")
    billing.fail(job.id, idempotency_key="f")
    Deliverer(billing).run_once()
    kinds = [json.loads(r.body)["type"] for r in hook.received]
    assert kinds == ["alert.purchase_credited", "alert.job_refunded"]


def test_two_deliverers_at_once_post_each_delivery_once(
    billing: Billing, clock: Any, hook: Receiver
) -> None:
    billing.add_webhook(hook.url, SECRET, types=["*"])
    for i in range(10):
        billing.create_wallet(f"w{i}")
    deliverers = [Deliverer(billing) for _ in range(4)]
    barrier = threading.Barrier(4)

    def run(d: Deliverer) -> None:
        barrier.wait()
        d.run_once()

    threads = [threading.Thread(target=run, args=(d,)) for d in deliverers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deliverers[0].run_once()
    ids = hook.event_ids()
    assert len(ids) == 10 and len(set(ids)) == 10


def test_webhook_registration_is_checked(billing: Billing) -> None:
    with pytest.raises(InvalidRequest):
        billing.add_webhook("ftp://x", SECRET)
    with pytest.raises(InvalidRequest):
        billing.add_webhook("http://x", "short")
    with pytest.raises(InvalidRequest):
        billing.add_webhook("http://x", SECRET, types=["no.such.type"])
    assert billing.list_webhooks() == []
    clock_free = billing.add_webhook("http://x", SECRET)
    assert billing.add_webhook("http://x", SECRET).id == clock_free.id


def test_finished_deliveries_leave_the_log_after_the_outbox_retention(
    billing: Billing, clock: Any, hook: Receiver
) -> None:
    """The delivery log is not kept for ever: the sweep deletes a delivered or given-up
    delivery once it is older than the outbox retention, a pending one never."""
    endpoint = billing.add_webhook(hook.url, SECRET, types=["alert.balance_below"])
    _low_balance(billing)
    deliverer = Deliverer(billing)
    assert deliverer.run_once().delivered == 1
    billing.set_alerts("w", below=[30])
    billing.submit("w", "img", generations=2, idempotency_key="s3")  # 20: crossed again
    hook.answers = [500] * 100
    first = deliverer.run_once()
    assert (first.enqueued, first.retrying) == (1, 1)
    assert billing.sweep().webhook_deliveries_deleted == 0
    log = billing.webhook_deliveries(endpoint.id).items
    assert sorted(d.status for d in log) == ["delivered", "pending"]

    clock.advance(delta=billing.outbox_retention - timedelta(seconds=1))
    assert billing.sweep().webhook_deliveries_deleted == 0  # not old enough yet
    clock.advance(2)
    assert billing.sweep().webhook_deliveries_deleted == 1
    (left,) = billing.webhook_deliveries(endpoint.id).items
    assert left.status == "pending"  # still to be delivered: never forgotten
    clock.advance(delta=billing.outbox_retention * 3)
    assert billing.sweep().webhook_deliveries_deleted == 0
    assert len(billing.webhook_deliveries(endpoint.id).items) == 1


def test_every_outbox_event_type_can_be_subscribed_to(billing: Billing, hook: Receiver) -> None:
    """Plans and packs write events of their own (a pack credited or taken back, a cycle
    granted, a subscription ended): each is a type an endpoint may ask for, by name."""
    kinds = [
        "purchase.credited",
        "purchase.taken_back",
        "subscription.cycle_granted",
        "subscription.ended",
    ]
    endpoint = billing.add_webhook(hook.url, SECRET, types=kinds)
    assert list(endpoint.types) == kinds
    with pytest.raises(InvalidRequest) as refused:
        billing.add_webhook(hook.url, SECRET, types=["purchase.refunded"])
    assert refused.value.details["field"] == "types"
    assert "purchase.taken_back" in str(refused.value)
