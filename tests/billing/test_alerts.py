"""Balance alerts on every store: exactly one alert per crossing of a level, decided in the
unit of work that moves the credits (so concurrency, retries and replays cannot repeat it),
re-armed when the balance rises back; one top-up request per crossing.

The test catalog prices ``img`` at 10 credits a generation.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests.outbox import settled_events

from gencredits.billing import Billing
from gencredits.errors import InsufficientCredits, InvalidRequest


def _alerts(billing: Billing, kind: str) -> list[Any]:
    return [e for e in settled_events(billing) if e.type == kind]


def test_each_level_fires_once_per_crossing_and_rearms_above(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g1")
    billing.set_alerts("w", below=[50, 20], depleted=True)
    for i in range(6):  # 100 -> 40: crosses 50 once, although five holds follow it
        billing.submit("w", "img", idempotency_key=f"s{i}")
    below = _alerts(billing, "alert.balance_below")
    assert [(e.payload["level"], e.payload["available"]) for e in below] == [(50, 40)]
    assert billing.get_alerts("w").fired == ("below-50",)

    billing.grant("w", 30, kind="purchase", idempotency_key="g2")  # 70: re-armed
    assert billing.get_alerts("w").fired == ()
    for i in range(7):  # 70 -> 0: 50, 20 and depleted, once each
        billing.submit("w", "img", idempotency_key=f"t{i}")
    below = _alerts(billing, "alert.balance_below")
    assert [e.subject_id for e in below] == ["w:below-50:1", "w:below-50:2", "w:below-20:1"]
    assert [e.subject_id for e in _alerts(billing, "alert.balance_depleted")] == ["w:depleted:1"]
    with pytest.raises(InsufficientCredits):
        billing.submit("w", "img", idempotency_key="none-left")
    assert len(_alerts(billing, "alert.balance_depleted")) == 1


def test_a_refund_that_lifts_the_balance_rearms_the_level(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 60, kind="purchase", idempotency_key="g")
    billing.set_alerts("w", below=[50])
    job = billing.submit("w", "img", generations=2, idempotency_key="s")  # 40
    billing.fail(job.id, idempotency_key="f")  # back to 60: re-armed
    billing.submit("w", "img", generations=2, idempotency_key="s2")  # 40 again: fires again
    crossings = [e.subject_id for e in _alerts(billing, "alert.balance_below")]
    assert crossings == ["w:below-50:1", "w:below-50:2"]


def test_threshold_crossed_once_under_concurrency_gives_one_alert(billing: Billing) -> None:
    """Sixteen threads hold at once, each retrying its own key: the one level crossed is
    alerted once, and its top-up requested once."""
    billing.create_wallet("w")
    billing.grant("w", 1_000, kind="purchase", idempotency_key="g")
    billing.set_alerts("w", below=[700], topup_below=600, topup_amount=500)
    barrier = threading.Barrier(16)

    def worker(i: int) -> None:
        barrier.wait()
        for k in range(3):
            billing.submit("w", "img", idempotency_key=f"s{i}-{k}")
            billing.submit("w", "img", idempotency_key=f"s{i}-{k}")  # a retry: a replay

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert billing.get_wallet("w").available == 1_000 - 16 * 3 * 10
    assert len(_alerts(billing, "alert.balance_below")) == 1
    assert [t.id for t in billing.get_alerts("w").topups] == ["w:topup:1"]


def test_peer_duplicate_low_balance_alerts_caused_duplicate_top_ups(billing: Billing) -> None:
    """The peer fired its low-balance alert from a check outside the transaction, so two
    requests that crossed together both fired, and each alert bought a top-up.  Here the
    crossing is decided under the wallet lock: one request per crossing, and acting on it
    twice (its id as the grant's key) credits once."""
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    billing.set_alerts("w", topup_below=50, topup_amount=200)
    first = billing.submit("w", "img", generations=3, idempotency_key="a")  # 70
    billing.submit("w", "img", generations=3, idempotency_key="b")  # 40: crossed
    billing.submit("w", "img", generations=3, idempotency_key="b")  # a retry: nothing new
    billing.fail(first.id, idempotency_key="f")  # 70: re-armed, no request
    billing.fail(first.id, idempotency_key="f")
    (request,) = billing.get_alerts("w").topups
    assert (request.id, request.amount, request.available) == ("w:topup:1", 200, 40)
    for _ in range(2):  # the payment side acts twice on the same request
        billing.grant("w", request.amount, kind="purchase", idempotency_key=request.id)
    assert billing.get_wallet("w").available == 70 + 200
    assert len(_alerts(billing, "topup.requested")) == 1


def test_alert_rules_are_checked(billing: Billing) -> None:
    billing.create_wallet("w")
    with pytest.raises(InvalidRequest) as bad:
        billing.set_alerts("w", below=[0])
    assert bad.value.details["field"] == "below"
    with pytest.raises(InvalidRequest):
        billing.set_alerts("w", topup_below=10)
    assert billing.get_alerts("w").below == ()


def test_a_level_already_crossed_when_set_fires_at_once(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 10, kind="purchase", idempotency_key="g")
    view = billing.set_alerts("w", below=[50])
    assert view.fired == ("below-50",)
    assert len(_alerts(billing, "alert.balance_below")) == 1


def test_a_grant_expiring_within_n_days_is_announced_once(billing: Billing, clock: Any) -> None:
    """Checked whenever the wallet changes: the bonus expiring in 5 days is announced at the
    first change within 7 days of its expiry, once; the purchase (no expiry) never."""
    from datetime import timedelta

    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    expiry = clock.now() + timedelta(days=12)
    bonus = billing.grant("w", 30, kind="bonus", expires_at=expiry, idempotency_key="b")
    billing.set_alerts("w", expiring_days=7)
    assert _alerts(billing, "alert.grant_expiring") == []  # 12 days away
    clock.advance(delta=timedelta(days=6))
    billing.submit("w", "img", idempotency_key="s1")
    billing.submit("w", "img", idempotency_key="s2")
    (event,) = _alerts(billing, "alert.grant_expiring")
    assert (event.subject_id, event.payload["remaining"]) == (bonus.id, 20)  # at s1
    assert billing.get_alerts("w").expiring_days == 7
