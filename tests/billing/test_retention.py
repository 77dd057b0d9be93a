"""Retention: the sweep deletes idempotency records past their retention, in bounded batches,
on every store; records inside the window keep replaying."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gencredits import limits
from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.config import load_settings
from gencredits.errors import IdempotencyConflict, InvalidRequest, InvalidSetting


def _keys(billing: Billing) -> set[tuple[str, str]]:
    with billing.store.reader() as reader:
        return set(reader.audit_snapshot().idempotency_keys)


def _billing(store: Any, clock: ManualClock, catalogs: Any) -> Billing:
    return Billing(store, catalogs, clock, idempotency_retention_days=7)


def test_records_past_retention_go_newer_ones_stay_and_replay(
    store: Any, clock: ManualClock, ledger_catalogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default retry limit: the refusal comes at the first conflict, not after the retries.
    billing = _billing(store, clock, ledger_catalogs)
    billing.create_wallet("w")
    billing.grant("w", 1000, kind="purchase", idempotency_key="old-grant")
    old = billing.submit("w", "img", idempotency_key="old-job")
    clock.advance(delta=timedelta(days=5))
    new = billing.submit("w", "img", idempotency_key="new-job")
    clock.advance(delta=timedelta(days=2, seconds=1))  # old ones now 7 days + 1 s old, new 2 days
    before = _keys(billing)
    report = billing.sweep()
    after = _keys(billing)
    assert report.idempotency_records_deleted == len(before) - len(after) >= 2
    assert not any(key in ("old-grant", "old-job") for _scope, key in after)
    assert any(key == "new-job" for _scope, key in after)
    assert billing.submit("w", "img", idempotency_key="new-job").id == new.id
    assert old.id != new.id
    assert billing.sweep().idempotency_records_deleted == 0  # nothing more is due
    assert billing.audit() == []  # effects older than the retention need no record
    with pytest.raises(IdempotencyConflict, match="retention") as refused:
        billing.submit("w", "img", idempotency_key="old-job")  # no replay, no second job
    assert refused.value.details["reason"] == "past_retention"
    assert [j.id for j in billing.list_jobs("w").items] == [new.id, old.id]


def test_the_sweep_deletes_in_bounded_batches(
    store: Any, clock: ManualClock, ledger_catalogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "RETENTION_BATCH", 2)
    monkeypatch.setattr(limits, "RETENTION_BATCHES", 2)
    billing = _billing(store, clock, ledger_catalogs)
    billing.create_wallet("w")  # no record: created without a key
    for n in range(5):
        billing.grant("w", 10, kind="purchase", idempotency_key=f"g{n}")
    clock.advance(delta=timedelta(days=8))
    first = billing.sweep()
    assert (first.idempotency_records_deleted, first.more) == (4, True)
    second = billing.sweep()
    assert (second.idempotency_records_deleted, second.more) == (1, False)
    assert _keys(billing) == set()


def test_a_retention_under_seven_days_is_refused(ledger_catalogs: Any) -> None:
    from gencredits.ledger import MemoryStore

    with pytest.raises(InvalidRequest, match="idempotency_retention_days"):
        Billing(MemoryStore(), ledger_catalogs, idempotency_retention_days=6)
    with pytest.raises(InvalidSetting, match="idempotency_retention_days"):
        load_settings(idempotency_retention_days=6)
    assert load_settings().idempotency_retention_days == 30
