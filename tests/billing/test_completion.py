"""What a completion may charge, and retries under one idempotency key, from the caller's
side on every store (the ``billing`` fixture: memory, SQLite, PostgreSQL, both behind group
commit).

Prices come from the ``test-ledger`` catalog (tests/conftest.py): ``img`` costs 10 per
generation (up to 4), ``vid`` costs 100 for 5 s and 200 for 10 s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tests.outbox import settled_events

from gencredits.billing import Billing
from gencredits.billing.inputs import SubmitJob
from gencredits.errors import (
    IdempotencyConflict,
    InvalidRequest,
    UnknownParameter,
    ValueNotOffered,
    WalletExists,
)
from gencredits.ledger.model import IdempotencyRecord
from gencredits.ledger.store import UnitHints
from gencredits.pricing import CatalogSet, parse_catalog


def funded(b: Billing, wallet: str = "w1", amount: int = 1000, **create: Any) -> str:
    b.create_wallet(wallet, **create)
    b.grant(wallet, amount, kind="purchase", idempotency_key=f"fund-{wallet}")
    return wallet


def snapshot(b: Billing, wallet: str = "w1") -> tuple[Any, ...]:
    """Everything a refused call must leave as it was."""
    w = b.get_wallet(wallet)
    history = [e.id for e in b.history(wallet, limit=500).items]
    jobs = [(j.id, j.state, j.credits_held) for j in b.list_jobs(wallet, limit=500).items]
    return (w.available, w.held, w.balance, history, jobs, len(settled_events(b)))


# --- what a completion reports is checked as a submission is ----------------------------------


@pytest.mark.parametrize(
    ("model", "params", "actuals", "error", "field"),
    [
        ("img", None, {"actual_generations": 5}, ValueNotOffered, "actual_generations"),
        ("img", None, {"actual_generations": 1000}, ValueNotOffered, "actual_generations"),
        ("img", None, {"actual_params": {"colour": "red"}}, UnknownParameter, "colour"),
        ("vid", {"duration": 5}, {"actual_params": {"duration": 7}}, ValueNotOffered, "duration"),
        (
            "vid",
            {"duration": 5},
            {"actual_params": {"duration": 7}, "actual_generations": 0},
            ValueNotOffered,
            "duration",
        ),
    ],
)
def test_a_completion_outside_the_models_limits_is_refused_and_moves_nothing(
    billing: Billing,
    model: str,
    params: dict[str, object] | None,
    actuals: dict[str, Any],
    error: type[InvalidRequest],
    field: str,
) -> None:
    funded(billing, amount=100_000)
    job = billing.submit("w1", model, params, idempotency_key="s")
    before = snapshot(billing)
    with pytest.raises(error) as err:
        billing.complete(job.id, idempotency_key="cb", **actuals)
    assert err.value.http_status == 422 and field in err.value.message
    assert err.value.details["field"] == field
    assert snapshot(billing) == before
    assert billing.get_job(job.id).state == "pending"
    # Nothing was recorded under the key: the corrected report is taken with the same key.
    done = billing.complete(job.id, idempotency_key="cb")
    assert (done.outcome, done.replayed) == ("captured", False)
    assert billing.audit() == []


def test_a_report_past_the_limit_is_refused_on_a_finished_job_too(billing: Billing) -> None:
    funded(billing)
    job = billing.submit("w1", "img", idempotency_key="s")
    billing.complete(job.id, idempotency_key="cb")
    with pytest.raises(ValueNotOffered) as err:
        billing.complete(job.id, actual_generations=5, idempotency_key="cb-2")
    assert err.value.details == {
        "field": "actual_generations",
        "value": 5,
        "allowed": "0 to 4",
    }


REPRICED = """
catalog: test-ledger
version: "2"
title: Ledger test prices, later
generations_max: 3
models:
  img:
    name: img
    modes: [text-to-image]
    price: {flat: 25}
"""


def test_when_the_catalog_changed_the_generations_are_still_bounded(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    before = Billing(store, ledger_catalogs, clock)
    funded(before)
    job = before.submit("w1", "img", generations=2, idempotency_key="s")
    after = Billing(store, CatalogSet([parse_catalog(REPRICED, "repriced")]), clock)
    with pytest.raises(ValueNotOffered) as err:
        after.complete(job.id, actual_generations=4, idempotency_key="cb")
    assert err.value.details["field"] == "actual_generations"
    assert after.get_wallet("w1").held == 20
    done = after.complete(job.id, actual_generations=1, idempotency_key="cb")
    assert (done.credits_used, done.outcome) == (10, "captured_partial")  # the quoted price
    assert after.audit() == []


# --- charging more than the hold: a policy, off by default --------------------------------------


def test_by_default_a_completion_charges_at_most_the_hold_and_writes_off_the_rest(
    billing: Billing,
) -> None:
    funded(billing, amount=100_000)
    img = billing.submit("w1", "img", idempotency_key="s1")
    done = billing.complete(img.id, actual_generations=4, idempotency_key="c1")
    assert (done.credits_used, done.written_off, done.outcome) == (10, 30, "extra_written_off")
    vid = billing.submit("w1", "vid", {"duration": 5}, idempotency_key="s2")
    done = billing.complete(vid.id, actual_params={"duration": 10}, idempotency_key="c2")
    assert (done.credits_used, done.written_off, done.outcome) == (100, 100, "extra_written_off")
    assert billing.get_wallet("w1").available == 100_000 - 110
    assert billing.audit() == []


@pytest.mark.parametrize(
    ("share", "used", "written_off", "outcome"),
    [
        (Decimal("0.255"), 12, 28, "extra_written_off"),  # floor(0.255 x 10) = 2 beyond 10
        (Decimal("1"), 20, 20, "extra_written_off"),
        (3, 40, 0, "charged_extra"),
        (Decimal("10"), 40, 0, "charged_extra"),  # the cap is not a price: 40 is what was made
    ],
)
def test_a_share_lets_a_completion_charge_beyond_the_hold_up_to_its_cap(
    store: Any,
    clock: Any,
    ledger_catalogs: CatalogSet,
    share: Decimal | int,
    used: int,
    written_off: int,
    outcome: str,
) -> None:
    billing = Billing(store, ledger_catalogs, clock, extra_charge_share=share)
    funded(billing)
    job = billing.submit("w1", "img", idempotency_key="s")
    done = billing.complete(job.id, actual_generations=4, idempotency_key="cb")
    assert (done.credits_used, done.written_off, done.outcome) == (used, written_off, outcome)
    assert billing.get_wallet("w1").available == 1000 - used
    assert billing.audit() == []


def test_a_wallets_own_share_overrides_the_services(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    billing = Billing(store, ledger_catalogs, clock, extra_charge_share=1)
    funded(billing, "capped", extra_charge_share=0)
    funded(billing, "half", extra_charge_share=Decimal("0.5"))
    funded(billing, "service")
    assert billing.get_wallet("half").extra_charge_share == Decimal("0.5")
    assert billing.get_wallet("service").extra_charge_share is None
    charged = {}
    for wallet in ("capped", "half", "service"):
        job = billing.submit(wallet, "vid", {"duration": 5}, idempotency_key="s")
        done = billing.complete(job.id, actual_params={"duration": 10}, idempotency_key="cb")
        charged[wallet] = (done.credits_used, done.written_off)
    assert charged == {"capped": (100, 100), "half": (150, 50), "service": (200, 0)}
    assert billing.audit() == []


def test_a_success_after_a_timeout_is_capped_the_same_way(billing: Billing, clock: Any) -> None:
    funded(billing)
    job = billing.submit("w1", "img", idempotency_key="s", hold_ttl_s=60)
    clock.advance(61)
    billing.sweep()
    late = billing.complete(job.id, actual_generations=3, idempotency_key="late")
    assert (late.credits_used, late.written_off, late.outcome) == (
        10,
        20,
        "written_off_after_timeout",
    )
    assert billing.get_wallet("w1").available == 990
    assert billing.audit() == []


@pytest.mark.parametrize("share", [0.5, -1, 11, Decimal("0.1234567"), Decimal("NaN"), "0.5", True])
def test_a_bad_share_is_refused_naming_the_field_and_creates_nothing(
    billing: Billing, share: Any
) -> None:
    with pytest.raises(InvalidRequest) as err:
        billing.create_wallet("w1", extra_charge_share=share)
    assert err.value.details["field"] == "extra_charge_share"
    assert "0 to 10" in err.value.details["allowed"]
    assert billing.list_wallets().items == []


def test_the_share_is_a_wallet_setting(billing: Billing) -> None:
    made = billing.create_wallet("w1", extra_charge_share=Decimal("0.50"), idempotency_key="k")
    assert made.extra_charge_share == Decimal("0.5")
    assert made.to_dict()["extra_charge_share"] == "0.5"  # text on the wire, never a float
    again = billing.create_wallet("w1", extra_charge_share=Decimal("0.5"), idempotency_key="k")
    assert again.replayed
    assert billing.create_wallet("w1", extra_charge_share=Decimal("0.5")).replayed
    with pytest.raises(WalletExists):
        billing.create_wallet("w1", extra_charge_share=Decimal("0.25"))
    with pytest.raises(WalletExists):
        billing.create_wallet("w1")


# --- retries under one key ----------------------------------------------------------------------


def test_the_same_submission_through_another_key_of_the_platform_replays(
    billing: Billing,
) -> None:
    funded(billing)
    first = billing.submit("w1", "img", submitted_by="key-a", idempotency_key="s")
    again = billing.submit("w1", "img", submitted_by="key-b", idempotency_key="s")
    assert (again.id, again.replayed, again.submitted_by) == (first.id, True, "key-a")
    free = billing.record_free_job("w1", "publishing", submitted_by="key-a", idempotency_key="f")
    again = billing.record_free_job("w1", "publishing", idempotency_key="f")
    assert (again.id, again.replayed) == (free.id, True)
    assert billing.get_wallet("w1").held == 10
    assert billing.audit() == []


def test_a_changed_request_conflicts_naming_what_differs_and_what_the_key_holds(
    billing: Billing,
) -> None:
    funded(billing)
    job = billing.submit("w1", "img", idempotency_key="s")
    with pytest.raises(IdempotencyConflict) as err:
        billing.submit("w1", "img", generations=2, idempotency_key="s")
    details = err.value.details
    assert (details["differs"], details["result_kind"], details["result_id"]) == (
        ["generations"],
        "job",
        job.id,
    )
    assert err.value.http_status == 409 and job.id in err.value.message
    billing.complete(job.id, actual_generations=1, idempotency_key="cb")
    with pytest.raises(IdempotencyConflict) as err:
        billing.fail(job.id, reason="boom", idempotency_key="cb")
    assert err.value.details["differs"] == [
        "operation",
        "actual_generations",
        "actual_params",
        "reason",
    ]
    assert billing.get_wallet("w1").available == 990


def test_a_record_written_without_its_request_still_replays_and_conflicts(
    billing: Billing, store: Any, clock: Any
) -> None:
    """A key recorded by an earlier version: its fingerprint covered ``submitted_by`` and it
    kept no request.  The same retry replays; another request conflicts, without ``differs``."""
    funded(billing)
    job = billing.submit("w1", "img", submitted_by="key-a", idempotency_key="s")
    asked = SubmitJob("w1", "img", None, 1, None, "key-a")
    (legacy,) = asked.legacy_fingerprints()
    old = IdempotencyRecord(
        "w1", "wallet:w1", "old", "submit", legacy, "job", job.id, "held", datetime.now(UTC)
    )

    def write(uow: Any) -> None:
        uow.lock_wallet("w1")
        uow.insert_idempotency(old)

    store.run_unit(write, UnitHints(wallet_id="w1", idempotency=("wallet:w1", "old")))
    again = billing.submit("w1", "img", submitted_by="key-a", idempotency_key="old")
    assert (again.id, again.replayed, again.outcome) == (job.id, True, "held")
    for changed in ({"generations": 2, "submitted_by": "key-a"}, {"submitted_by": "key-b"}):
        with pytest.raises(IdempotencyConflict) as err:
            billing.submit("w1", "img", idempotency_key="old", **changed)
        assert "differs" not in err.value.details
        assert err.value.details["result_id"] == job.id
    assert billing.get_wallet("w1").held == 10


def test_the_services_share_is_a_setting_read_as_an_exact_decimal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gencredits.config import load_settings
    from gencredits.errors import InvalidSetting

    assert load_settings().extra_charge_share == 0
    monkeypatch.setenv("GENCREDITS_EXTRA_CHARGE_SHARE", "0.1")
    assert load_settings().extra_charge_share == Decimal("0.1")
    monkeypatch.setenv("GENCREDITS_EXTRA_CHARGE_SHARE", "-1")
    with pytest.raises(InvalidSetting) as err:
        load_settings()
    assert err.value.details["field"] == "extra_charge_share"
    assert err.value.details["env"] == "GENCREDITS_EXTRA_CHARGE_SHARE"
