"""Expiring-grant alerts on a timer, on every store: the sweep announces a grant entering its
wallet's ``expiring_days`` window to a wallet nobody touches, once per grant, whoever sweeps
(two sweepers at once, a second process, a sweeper that dies mid-unit), found from the index
of live expiring grants and only for wallets with the rule.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from tests.billing.test_peers import Crash, FaultyStore
from tests.outbox import settled_events
from tests.webhook_receiver import receiver

from gencredits.billing import Billing
from gencredits.pricing import CatalogSet
from gencredits.webhooks import Deliverer, verify

SECRET = "whsec_test_0123456789abcdef"


def _expiring(billing: Billing) -> list[Any]:
    return [e for e in settled_events(billing) if e.type == "alert.grant_expiring"]


def _dormant(billing: Billing, clock: Any, *, days: int = 12) -> str:
    """Wallet ``w``: a bonus expiring in ``days`` days, alerts 7 days ahead; the bonus id."""
    billing.create_wallet("w")
    expiry = clock.now() + timedelta(days=days)
    bonus = billing.grant("w", 30, kind="bonus", expires_at=expiry, idempotency_key="b")
    billing.set_alerts("w", expiring_days=7)
    return bonus.id


def test_an_untouched_wallet_hears_once_when_its_grant_enters_the_window(
    billing: Billing, clock: Any
) -> None:
    bonus = _dormant(billing, clock)
    assert billing.sweep().expiry_alerts == 0  # 12 days away
    clock.advance(delta=timedelta(days=4))
    assert billing.sweep().expiry_alerts == 0  # 8 days away
    clock.advance(delta=timedelta(days=1, seconds=1))  # just inside 7 days
    assert billing.sweep().expiry_alerts == 1
    clock.advance(delta=timedelta(days=1))
    report = billing.sweep()
    assert (report.expiry_alerts, report.more) == (0, False)
    (event,) = _expiring(billing)
    assert (event.subject_id, event.wallet_id, event.payload["remaining"]) == (bonus, "w", 30)
    assert billing.get_alerts("w").fired == ()


def test_two_sweepers_at_once_and_another_process_announce_once(
    billing: Billing, clock: Any, store: Any, ledger_catalogs: CatalogSet
) -> None:
    _dormant(billing, clock)
    clock.advance(delta=timedelta(days=6))
    other_process = Billing(store, ledger_catalogs, clock)
    start = threading.Barrier(4)
    counts: list[int] = []

    def sweep(who: Billing) -> None:
        start.wait()
        counts.append(who.sweep().expiry_alerts)

    threads = [threading.Thread(target=sweep, args=(b,)) for b in [billing, other_process] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == [0, 0, 0, 1]
    assert len(_expiring(billing)) == 1
    assert other_process.sweep().expiry_alerts == 0


def test_a_sweeper_that_dies_mid_unit_leaves_it_to_the_next(
    billing: Billing, clock: Any, store: Any, ledger_catalogs: CatalogSet
) -> None:
    _dormant(billing, clock)
    clock.advance(delta=timedelta(days=6))
    dying = Billing(FaultyStore(store, "put_state"), ledger_catalogs, clock)
    try:
        dying.sweep()
        raise AssertionError("the faulty store did not die")
    except Crash:
        pass
    assert _expiring(billing) == []  # the event went with the unit
    assert billing.sweep().expiry_alerts == 1
    assert len(_expiring(billing)) == 1


def test_a_grant_spent_to_zero_before_the_window_is_never_announced(
    billing: Billing, clock: Any
) -> None:
    _dormant(billing, clock)
    for i in range(3):  # 30 -> 0, spent
        job = billing.submit("w", "img", idempotency_key=f"s{i}")
        billing.complete(job.id, idempotency_key=f"c{i}")
    assert billing.get_wallet("w").available == 0
    clock.advance(delta=timedelta(days=6))
    assert billing.sweep().expiry_alerts == 0
    assert _expiring(billing) == []


def test_only_wallets_with_the_rule_are_read(billing: Billing, clock: Any, store: Any) -> None:
    """The reader's window query leaves out wallets without ``expiring_days`` (a wallet with
    other alert rules too) and grants outside the window; pages follow (expiry, id)."""
    expiry = clock.now() + timedelta(days=3)
    with store.reader() as reader:
        assert reader.state_field_max("alerts", "expiring_days") is None  # sweep reads none
    for wallet, rules in (("ruled", {"expiring_days": 7}), ("levels", {"below": [5]})):
        billing.create_wallet(wallet)
        for n in range(3):
            billing.grant(wallet, 5, kind="bonus", expires_at=expiry, idempotency_key=f"{n}")
        billing.set_alerts(wallet, **rules)
    billing.create_wallet("none")
    billing.grant("none", 5, kind="bonus", expires_at=expiry, idempotency_key="x")
    now = clock.now()
    with store.reader() as reader:
        first = reader.grants_expiring_within(
            now, now + timedelta(days=7), rule=("alerts", "expiring_days"), start=None, limit=2
        )
        rest = reader.grants_expiring_within(
            now,
            now + timedelta(days=7),
            rule=("alerts", "expiring_days"),
            start=(first[-1][2], first[-1][0]),
            limit=5,
        )
        widest = reader.state_field_max("alerts", "expiring_days")
        later = reader.grants_expiring_within(
            now, now + timedelta(days=2), rule=("alerts", "expiring_days"), start=None, limit=5
        )
    assert {w for _, w, _ in first + rest} == {"ruled"}
    assert len({g for g, _, _ in first + rest}) == 3 and len(first) == 2
    assert later == [] and widest == 7


def test_an_expiring_alert_is_delivered_by_webhook(billing: Billing, clock: Any) -> None:
    with receiver() as hook:
        billing.add_webhook(hook.url, SECRET, wallet_id="w", types=["alert.grant_expiring"])
        bonus = _dormant(billing, clock)
        clock.advance(delta=timedelta(days=6))
        billing.sweep()
        billing.sweep()
        deliverer = Deliverer(billing)
        assert deliverer.run_once().delivered == 1
        assert deliverer.run_once().delivered == 0
        (got,) = hook.received
    now = int(clock.now().timestamp())
    assert verify(SECRET, got.headers["Gencredits-Signature"], got.body, now=now)
    body = json.loads(got.body)
    assert (body["type"], body["subject_id"], body["payload"]["remaining"]) == (
        "alert.grant_expiring",
        bonus,
        30,
    )
