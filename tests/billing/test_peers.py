"""One test per failure seen in other credit systems (peers), named after the bug it catches.

Each runs on every store (memory, SQLite, PostgreSQL).  ``img`` costs 10 credits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.outbox import settled_events

from gencredits.billing import Billing
from gencredits.errors import InsufficientCredits, JobNotFound
from gencredits.ledger.store import UnitHints
from gencredits.pricing import CatalogSet


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``n`` threads released at the same instant; return results/errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


class Crash(BaseException):
    """A process dying, or a request task cancelled (like asyncio.CancelledError)."""


class FaultyStore:
    """Wraps a store; the unit of work dies when it reaches ``die_at`` (once)."""

    def __init__(self, inner: Any, die_at: str) -> None:
        self.inner, self.die_at, self.backend = inner, die_at, inner.backend
        self.armed = True

    @contextmanager
    def unit_of_work(self) -> Iterator[Any]:
        with self.inner.unit_of_work() as uow:
            yield _Faulty(uow, self)

    def run_unit(self, unit: Callable[[Any], Any], hints: UnitHints) -> Any:
        with self.unit_of_work() as uow:
            return unit(uow)

    def reader(self) -> Any:
        return self.inner.reader()

    def close(self) -> None:
        self.inner.close()


class _Faulty:
    def __init__(self, uow: Any, owner: FaultyStore) -> None:
        self._uow, self._owner = uow, owner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._uow, name)
        if name == self._owner.die_at and self._owner.armed:

            def die(*args: Any, **kwargs: Any) -> Any:
                attr(*args, **kwargs)
                self._owner.armed = False
                raise Crash(f"died right after {name}")

            return die
        return attr


def test_balance_check_ignores_open_holds(billing: Billing) -> None:
    """Peers accepted six holds of 1,000 on a balance of 5,000; here: six of 10 on 50."""
    billing.create_wallet("w")
    billing.grant("w", 50, kind="purchase", idempotency_key="g")
    for i in range(5):
        billing.submit("w", "img", idempotency_key=f"h{i}")
    with pytest.raises(InsufficientCredits) as err:
        billing.submit("w", "img", idempotency_key="h5")
    assert (err.value.required, err.value.available) == (10, 0)
    assert billing.get_wallet("w").held == 50
    assert billing.audit() == []


def test_hold_rejected_then_committed_anyway(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 5, kind="purchase", idempotency_key="g")
    with pytest.raises(InsufficientCredits):
        billing.submit("w", "img", idempotency_key="rejected")
    assert billing.list_jobs("w").items == []
    replay = Billing(billing.store, billing.catalogs, billing.clock)
    with pytest.raises(InsufficientCredits):
        replay.submit("w", "img", idempotency_key="rejected")
    for job in billing.list_jobs("w").items:
        pytest.fail(f"a rejected hold left job {job.id}")
    with pytest.raises(JobNotFound):
        billing.complete("job_made_up", idempotency_key="cb")
    assert billing.get_wallet("w").available == 5
    assert billing.audit() == []


def test_same_hold_committed_twice_by_two_concurrent_calls(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    job = billing.submit("w", "img", idempotency_key="s")
    results = race(8, lambda i: billing.complete(job.id, idempotency_key=f"cb-{i}"))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["already_succeeded"] * 7 + ["captured"]
    assert billing.get_wallet("w").available == 90
    assert billing.audit() == []


def test_credit_lost_because_receiving_balance_not_locked(billing: Billing) -> None:
    billing.create_wallet("w")

    def work(i: int) -> Any:
        if i % 2:
            return billing.grant("w", 7, kind="bonus", idempotency_key=f"g{i}")
        return billing.record_free_job("w", "scheduling", idempotency_key=f"f{i}")

    results = race(16, work)
    assert not [r for r in results if isinstance(r, Exception)]
    assert billing.get_wallet("w").available == 8 * 7
    assert billing.audit() == []


def test_same_topup_sent_twice_credited_twice(billing: Billing) -> None:
    billing.create_wallet("w")
    first = billing.grant("w", 300, kind="purchase", source="invoice-9", idempotency_key="inv-9")
    second = billing.grant("w", 300, kind="purchase", source="invoice-9", idempotency_key="inv-9")
    assert second.id == first.id and second.replayed
    assert billing.get_wallet("w").available == 300


def test_pending_to_settled_step_applied_twice_within_milliseconds(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    job = billing.submit("w", "img", generations=2, idempotency_key="s")
    a = billing.complete(job.id, idempotency_key="settle-a")
    b = billing.complete(job.id, idempotency_key="settle-b")
    assert (a.outcome, b.outcome) == ("captured", "already_succeeded")
    assert billing.get_wallet("w").available == 80
    kinds = [e.kind for e in billing.history("w").items]
    assert kinds.count("capture") == 1


def test_void_then_recredit_doubling_a_balance(billing: Billing) -> None:
    billing.create_wallet("w")
    g = billing.grant("w", 100, kind="purchase", idempotency_key="pay-1")
    billing.void_grant(g.id, idempotency_key="void-1")
    again = billing.grant("w", 100, kind="purchase", idempotency_key="pay-1")  # webhook retried
    assert again.id == g.id and again.state == "voided"
    billing.void_grant(g.id, idempotency_key="void-2")
    assert billing.get_wallet("w").available == 0
    assert billing.audit() == []


def test_idempotency_record_claimed_before_the_write_dropped_the_retry(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    """The process dies after the hold is written but before commit; the retry must work."""
    setup = Billing(store, ledger_catalogs, clock)
    setup.create_wallet("w")
    setup.grant("w", 100, kind="purchase", idempotency_key="g")
    dying = Billing(FaultyStore(store, "emit"), ledger_catalogs, clock)
    with pytest.raises(Crash):
        dying.submit("w", "img", idempotency_key="req-1")
    assert setup.get_wallet("w").held == 0  # nothing half-made
    retried = setup.submit("w", "img", idempotency_key="req-1")
    assert not retried.replayed and retried.credits_held == 10
    assert setup.get_wallet("w").held == 10
    assert setup.audit() == []


def test_random_hold_id_per_request_made_a_second_hold_on_retry(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    one = Billing(store, ledger_catalogs, clock)
    other_process = Billing(store, ledger_catalogs, clock)
    one.create_wallet("w")
    one.grant("w", 100, kind="purchase", idempotency_key="g")
    a = one.submit("w", "img", idempotency_key="client-req-77")
    b = other_process.submit("w", "img", idempotency_key="client-req-77")
    assert a.id == b.id
    assert one.get_wallet("w").held == 10
    assert len(one.list_jobs("w").items) == 1


def test_duplicate_low_balance_alerts_triggered_duplicate_topups(billing: Billing) -> None:
    """Two alert consumers see the same outbox event; top-ups keyed by the event credit once."""
    billing.create_wallet("w")
    billing.grant("w", 10, kind="purchase", idempotency_key="g")
    billing.submit("w", "img", idempotency_key="s")
    low = [e for e in settled_events(billing) if e.type == "job.submitted"]
    assert len(low) == 1
    for _consumer in range(2):
        for event in low:
            billing.grant("w", 500, kind="purchase", idempotency_key=f"auto-topup:{event.seq}")
    assert billing.get_wallet("w").available == 500


def test_sweep_settled_stale_holds_at_full_price_then_no_refund_on_failure(
    billing: Billing, clock: Any
) -> None:
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    job = billing.submit("w", "img", generations=3, idempotency_key="s", hold_ttl_s=60)
    clock.advance(120)
    billing.sweep()
    assert billing.get_job(job.id).credits_used == 0  # released, not settled
    billing.fail(job.id, reason="provider failed late", idempotency_key="late-fail")
    assert billing.get_wallet("w").available == 100
    assert billing.audit() == []


@pytest.mark.parametrize("die_at", ["insert_job", "record", "update_wallet"])
def test_hold_leaked_when_client_disconnected_mid_request(
    store: Any, clock: Any, ledger_catalogs: CatalogSet, die_at: str
) -> None:
    setup = Billing(store, ledger_catalogs, clock)
    setup.create_wallet("w")
    setup.grant("w", 100, kind="purchase", idempotency_key="g")
    cancelled = Billing(FaultyStore(store, die_at), ledger_catalogs, clock)
    with pytest.raises(Crash):
        cancelled.submit("w", "img", idempotency_key="req")
    w = setup.get_wallet("w")
    assert (w.available, w.held) == (100, 0)
    assert setup.list_jobs("w").items == []
    assert setup.audit() == []


def test_retry_of_a_failed_job_was_not_charged_again_after_the_refund(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 100, kind="purchase", idempotency_key="g")
    first = billing.submit("w", "img", idempotency_key="attempt-1")
    billing.fail(first.id, idempotency_key="f")
    retry = billing.submit("w", "img", idempotency_key="attempt-2")
    assert retry.id != first.id and retry.credits_held == 10
    billing.complete(retry.id, idempotency_key="c")
    assert billing.get_wallet("w").available == 90


def test_duplicate_payment_webhooks_credited_a_purchase_twice(billing: Billing) -> None:
    billing.create_wallet("w")
    results = race(
        12,
        lambda i: billing.grant(
            "w", 250, kind="purchase", source="pay_123", idempotency_key="webhook:pay_123"
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.id for r in results}) == 1
    assert billing.get_wallet("w").available == 250
    assert billing.audit() == []


def test_row_locking_the_latest_ledger_row_lost_updates_under_read_committed(
    billing: Billing,
) -> None:
    """Lock the wallet row, not a moving "latest entry": concurrent holds all count."""
    billing.create_wallet("w")
    billing.grant("w", 10_000, kind="purchase", idempotency_key="g")
    results = race(24, lambda i: billing.submit("w", "img", idempotency_key=f"s{i}"))
    assert not [r for r in results if isinstance(r, Exception)], results
    w = billing.get_wallet("w")
    assert (w.held, w.available) == (240, 10_000 - 240)
    assert billing.audit() == []
