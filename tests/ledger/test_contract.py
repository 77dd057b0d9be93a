"""The ledger contract: the same behaviour on the memory model, SQLite and PostgreSQL.

Prices come from the ``test-ledger`` catalog (tests/conftest.py): ``img`` costs 10 per
generation (up to 4), ``vid`` costs 100 for 5 s and 200 for 10 s.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from tests.outbox import settled_events

from gencredits.billing import Billing
from gencredits.billing.ids import digest as _digest
from gencredits.errors import (
    GrantNotFound,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidRequest,
    InvalidTransition,
    JobNotFound,
    UnknownModel,
    WalletExists,
    WalletNotFound,
)
from gencredits.pricing import CatalogSet, parse_catalog


def funded(b: Billing, wallet: str = "w1", amount: int = 1000, **grant: Any) -> str:
    b.create_wallet(wallet)
    b.grant(wallet, amount, kind=grant.pop("kind", "purchase"), idempotency_key="fund", **grant)
    return wallet


def events(b: Billing) -> list[str]:
    return [e.type for e in settled_events(b, limit=1000)]


def clean(b: Billing) -> None:
    assert b.audit() == []


# --- wallets -------------------------------------------------------------------------------


def test_new_wallet_is_empty(billing: Billing) -> None:
    w = billing.create_wallet("alice", owner_kind="user")
    assert (w.available, w.held, w.balance, w.grants) == (0, 0, 0, ())
    assert billing.get_wallet("alice").id == "alice"
    clean(billing)


def test_create_wallet_again_same_settings_returns_it_other_settings_conflict(
    billing: Billing,
) -> None:
    billing.create_wallet("team-1", owner_kind="team", overdraft_limit=50)
    again = billing.create_wallet("team-1", owner_kind="team", overdraft_limit=50)
    assert again.replayed and again.overdraft_limit == 50
    with pytest.raises(WalletExists) as err:
        billing.create_wallet("team-1", owner_kind="team", overdraft_limit=0)
    assert err.value.code == "wallet_exists"
    assert events(billing) == ["wallet.created"]


def test_unknown_wallet_is_a_named_not_found(billing: Billing) -> None:
    with pytest.raises(WalletNotFound) as err:
        billing.get_wallet("nobody")
    assert err.value.code == "wallet_not_found" and "nobody" in err.value.message
    with pytest.raises(WalletNotFound):
        billing.grant("nobody", 5, kind="bonus", idempotency_key="k")
    with pytest.raises(WalletNotFound):
        billing.submit("nobody", "img", idempotency_key="k")


def test_list_wallets_pages_in_id_order(billing: Billing) -> None:
    for name in ["c", "a", "e", "b", "d"]:
        billing.create_wallet(name)
    first = billing.list_wallets(limit=2)
    assert [w.id for w in first.items] == ["a", "b"] and first.next_cursor
    second = billing.list_wallets(limit=2, cursor=first.next_cursor)
    third = billing.list_wallets(limit=2, cursor=second.next_cursor)
    assert [w.id for w in second.items] == ["c", "d"]
    assert [w.id for w in third.items] == ["e"] and third.next_cursor is None
    with pytest.raises(InvalidRequest) as err:
        billing.list_wallets(cursor="garbage!")
    assert err.value.details["field"] == "cursor"


# --- grants and spend order ------------------------------------------------------------------


def test_grant_adds_spendable_credit_and_replay_returns_the_same_grant(billing: Billing) -> None:
    billing.create_wallet("w")
    g = billing.grant("w", 500, kind="purchase", source="order-1", idempotency_key="pay-1")
    again = billing.grant("w", 500, kind="purchase", source="order-1", idempotency_key="pay-1")
    assert again.id == g.id and again.replayed and not g.replayed
    assert billing.get_wallet("w").available == 500
    assert events(billing).count("grant.created") == 1
    clean(billing)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("amount", {"amount": 0}),
        ("amount", {"amount": -5}),
        ("amount", {"amount": 1.5}),
        ("amount", {"amount": True}),
        ("kind", {"kind": "gift"}),
        ("priority", {"priority": -1}),
        ("idempotency_key", {"idempotency_key": ""}),
    ],
)
def test_grant_refuses_bad_input_naming_the_field(
    billing: Billing, field: str, kwargs: dict[str, Any]
) -> None:
    billing.create_wallet("w")
    args: dict[str, Any] = {"amount": 10, "kind": "bonus", "idempotency_key": "k", **kwargs}
    amount = args.pop("amount")
    with pytest.raises(InvalidRequest) as err:
        billing.grant("w", amount, **args)
    assert err.value.details["field"] == field
    assert billing.get_wallet("w").available == 0


def test_spend_order_priority_then_soonest_expiry_then_oldest(billing: Billing, clock: Any) -> None:
    """allowance (p10) -> bonus expiring day 2 -> bonus expiring day 5 -> older pack -> pack."""
    now = clock.now()
    billing.create_wallet("w")
    pack_old = billing.grant("w", 10, kind="purchase", idempotency_key="p1")
    clock.advance(1)
    pack_new = billing.grant("w", 10, kind="purchase", idempotency_key="p2")
    late_bonus = billing.grant(
        "w", 10, kind="bonus", expires_at=now + timedelta(days=5), idempotency_key="b5"
    )
    soon_bonus = billing.grant(
        "w", 10, kind="bonus", expires_at=now + timedelta(days=2), idempotency_key="b2"
    )
    allowance = billing.grant("w", 10, kind="allowance", idempotency_key="a")
    order = [allowance.id, soon_bonus.id, late_bonus.id, pack_old.id, pack_new.id]
    for i in range(5):
        billing.submit("w", "img", idempotency_key=f"s{i}")
        spent = [g.id for g in billing.list_grants("w").items if g.remaining == 0]
        assert spent == order[: i + 1] or sorted(spent) == sorted(order[: i + 1])
    clean(billing)


def test_explicit_priority_overrides_the_kind_default(billing: Billing) -> None:
    billing.create_wallet("w")
    billing.grant("w", 10, kind="allowance", idempotency_key="a")
    pack = billing.grant("w", 10, kind="purchase", priority=1, idempotency_key="p")
    billing.submit("w", "img", idempotency_key="s")
    assert {g.id: g.remaining for g in billing.list_grants("w").items}[pack.id] == 0


def test_expired_grant_is_not_spendable_even_before_the_sweep(billing: Billing, clock: Any) -> None:
    billing.create_wallet("w")
    billing.grant(
        "w",
        100,
        kind="promotional",
        expires_at=clock.now() + timedelta(hours=1),
        idempotency_key="promo",
    )
    clock.advance(3600)
    assert billing.get_wallet("w").available == 0
    with pytest.raises(InsufficientCredits):
        billing.submit("w", "img", idempotency_key="s")
    report = billing.sweep()
    assert (report.grants_expired, report.credits_expired) == (1, 100)
    assert billing.sweep().grants_expired == 0  # a second sweep finds nothing
    assert [g.state for g in billing.list_grants("w").items] == ["expired"]
    assert "grant.expired" in events(billing)
    clean(billing)


def test_grant_effective_in_the_future_is_not_spendable_yet(billing: Billing, clock: Any) -> None:
    billing.create_wallet("w")
    billing.grant(
        "w",
        50,
        kind="allowance",
        effective_at=clock.now() + timedelta(days=1),
        idempotency_key="next-cycle",
    )
    assert billing.get_wallet("w").available == 0
    clock.advance(86400)
    assert billing.get_wallet("w").available == 50


def test_void_grant_takes_back_what_is_left_once(billing: Billing) -> None:
    billing.create_wallet("w")
    g = billing.grant("w", 100, kind="purchase", idempotency_key="pay")
    billing.submit("w", "img", idempotency_key="s")  # 10 spent-in-hold
    voided = billing.void_grant(g.id, idempotency_key="refund-pay")
    assert voided.state == "voided" and voided.remaining == 0
    assert billing.void_grant(g.id, idempotency_key="refund-pay-again").outcome == "already_voided"
    assert billing.get_wallet("w").available == 0
    with pytest.raises(GrantNotFound):
        billing.void_grant("gr_nope", idempotency_key="x")
    clean(billing)


# --- submit -------------------------------------------------------------------------------------


def test_submit_holds_the_quote_and_answers_status_0(billing: Billing) -> None:
    funded(billing, amount=1000)
    job = billing.submit(
        "w1",
        "vid",
        {"duration": 10},
        generations=2,
        submitted_by="member-7",
        idempotency_key="req-1",
        metadata={"project": "p1"},
    )
    d = job.to_dict()
    assert (d["status"], d["state"], d["creditsUsed"], d["credits_held"]) == (
        0,
        "pending",
        400,
        400,
    )
    assert d["catalog"] == "test-ledger" and d["catalog_version"] == "1"
    assert d["catalog_hash"].startswith("sha256:")
    assert d["quote"]["total_credits"] == 400 and d["quote"]["breakdown"]
    assert d["submitted_by"] == "member-7" and d["metadata"] == {"project": "p1"}
    w = billing.get_wallet("w1")
    assert (w.available, w.held, w.balance) == (600, 400, 1000)
    assert billing.get_job(job.id).state == "pending"
    clean(billing)


def test_job_metadata_reads_back_exactly(billing: Billing) -> None:
    """Metadata (and the job's other JSON columns) come back as they went in, non-ASCII text
    and characters JSON must escape included."""
    funded(billing, amount=1000)
    metadata = {"project": "Grüße, 世界", "note": 'quote " and \\ back\tslash', "e": "🎬"}
    job = billing.submit("w1", "img", idempotency_key="meta-1", metadata=metadata)
    assert billing.get_job(job.id).to_dict()["metadata"] == metadata
    clean(billing)


def test_insufficient_credits_says_required_available_shortfall_and_records_nothing(
    billing: Billing,
) -> None:
    funded(billing, amount=150)
    before_events = events(billing)
    with pytest.raises(InsufficientCredits) as err:
        billing.submit("w1", "vid", {"duration": 10}, idempotency_key="big")
    assert (err.value.required, err.value.available, err.value.shortfall) == (200, 150, 50)
    assert err.value.details["wallet"] == "w1"
    assert billing.list_jobs("w1").items == []
    assert events(billing) == before_events
    assert [e.kind for e in billing.history("w1").items] == ["grant"]
    # The key was not consumed by the refusal: after a top-up the same request goes through.
    billing.grant("w1", 50, kind="bonus", idempotency_key="topup")
    assert billing.submit("w1", "vid", {"duration": 10}, idempotency_key="big").credits_held == 200
    clean(billing)


def test_submit_bad_request_is_refused_before_anything_is_recorded(billing: Billing) -> None:
    funded(billing)
    with pytest.raises(InvalidRequest) as err:
        billing.submit("w1", "vid", {"duration": 7}, idempotency_key="k")
    assert "duration" in err.value.message
    with pytest.raises(InvalidRequest):
        billing.submit("w1", "img", generations=9, idempotency_key="k")
    # A value the job row cannot store as it was given (a Decimal, NaN) is refused up front,
    # by name, instead of failing when the row is written.
    for bad in (Decimal(5), float("nan"), [5]):
        with pytest.raises(InvalidRequest) as err:
            billing.submit("w1", "vid", {"duration": bad}, idempotency_key="k")
        assert err.value.details["field"] == "params[duration]"
    assert billing.list_jobs("w1").items == []


def test_submit_replay_returns_the_same_job_and_a_changed_request_conflicts(
    billing: Billing,
) -> None:
    funded(billing)
    a = billing.submit("w1", "img", generations=2, idempotency_key="r")
    b = billing.submit("w1", "img", generations=2, idempotency_key="r")
    assert a.id == b.id and b.replayed
    with pytest.raises(IdempotencyConflict) as err:
        billing.submit("w1", "img", generations=3, idempotency_key="r")
    assert err.value.code == "idempotency_conflict"
    assert billing.get_wallet("w1").held == 20
    clean(billing)


def test_a_retry_later_replays_the_first_job_and_job_ids_sort_by_submission_time(
    billing: Billing, clock: Any
) -> None:
    """Ids carry the submission's millisecond (so new rows go to the end of every index keyed
    by them); a retry at another time still finds the first job, by its idempotency key."""
    funded(billing)
    first = billing.submit("w1", "img", idempotency_key="a")
    clock.advance(3600)
    retry = billing.submit("w1", "img", idempotency_key="a")
    assert (retry.id, retry.replayed) == (first.id, True)
    later = billing.submit("w1", "img", idempotency_key="b")
    clock.advance(0.001)
    latest = billing.submit("w1", "img", idempotency_key="c")
    assert _digest("job", "w1", "c") < _digest("job", "w1", "b")  # the hash alone: c first
    assert first.id < later.id < latest.id
    assert len({first.id, later.id, latest.id}) == 3
    assert billing.get_wallet("w1").held == 30  # three holds, not four
    clean(billing)


# --- complete, fail, cancel -----------------------------------------------------------------------


def test_complete_captures_the_hold_status_1(billing: Billing) -> None:
    funded(billing, amount=1000)
    job = billing.submit("w1", "vid", {"duration": 5}, idempotency_key="s")
    done = billing.complete(job.id, idempotency_key="cb-1")
    assert (done.status, done.state, done.credits_used, done.outcome) == (
        1,
        "succeeded",
        100,
        "captured",
    )
    w = billing.get_wallet("w1")
    assert (w.available, w.held) == (900, 0)
    assert "job.succeeded" in events(billing)
    clean(billing)


def test_partial_result_captures_less_and_releases_the_rest(billing: Billing) -> None:
    """4 generations held (40), 3 delivered: 30 captured, 10 back to the wallet."""
    funded(billing, amount=100)
    job = billing.submit("w1", "img", generations=4, idempotency_key="s")
    done = billing.complete(job.id, actual_generations=3, idempotency_key="cb")
    assert (done.credits_used, done.outcome) == (30, "captured_partial")
    assert billing.get_wallet("w1").available == 70
    clean(billing)


def test_shorter_result_is_priced_on_the_quote(billing: Billing) -> None:
    funded(billing, amount=1000)
    job = billing.submit("w1", "vid", {"duration": 10}, idempotency_key="s")
    done = billing.complete(job.id, actual_params={"duration": 5}, idempotency_key="cb")
    assert done.credits_used == 100
    assert billing.get_wallet("w1").available == 900
    clean(billing)


def test_result_costing_more_charges_the_difference_when_the_balance_allows(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    """With an extra-charge share of 1 (up to the quote again beyond the hold)."""
    billing = Billing(store, ledger_catalogs, clock, extra_charge_share=1)
    funded(billing, amount=1000)
    job = billing.submit("w1", "vid", {"duration": 5}, idempotency_key="s")
    done = billing.complete(job.id, actual_params={"duration": 10}, idempotency_key="cb")
    assert (done.credits_used, done.written_off, done.outcome) == (200, 0, "charged_extra")
    assert billing.get_wallet("w1").available == 800
    clean(billing)


def test_result_costing_more_than_the_balance_writes_the_difference_off(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    billing = Billing(store, ledger_catalogs, clock, extra_charge_share=1)
    funded(billing, amount=120)
    job = billing.submit("w1", "vid", {"duration": 5}, idempotency_key="s")
    done = billing.complete(job.id, actual_params={"duration": 10}, idempotency_key="cb")
    assert (done.credits_used, done.written_off, done.outcome) == (100, 100, "extra_written_off")
    assert billing.get_wallet("w1").available == 20
    clean(billing)


REPRICED = """
catalog: test-ledger
version: "2"
title: Ledger test prices, later
generations_max: 4
models:
  img:
    name: img
    modes: [text-to-image]
    price: {flat: 25}
"""


def test_price_is_the_one_quoted_even_if_the_catalog_changed(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    before = Billing(store, ledger_catalogs, clock)
    funded(before, amount=1000)
    full = before.submit("w1", "img", generations=2, idempotency_key="s1")
    partial = before.submit("w1", "img", generations=4, idempotency_key="s2")
    after = Billing(store, CatalogSet([parse_catalog(REPRICED, "repriced")]), clock)
    assert after.complete(full.id, idempotency_key="c1").credits_used == 20
    assert after.complete(partial.id, actual_generations=3, idempotency_key="c2").credits_used == 30
    assert after.submit("w1", "img", idempotency_key="s3").credits_used == 25
    clean(after)


def test_a_submit_replay_needs_no_price_and_a_missing_wallet_is_named_before_the_model(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    """The price is worked out before the unit runs, but its errors keep their place: a
    retry of an accepted submission replays even once its model is gone from the catalog,
    and an unknown wallet is reported before an unknown model."""
    before = Billing(store, ledger_catalogs, clock)
    funded(before, amount=1000)
    job = before.submit("w1", "vid", {"duration": 5}, idempotency_key="s1")
    after = Billing(store, CatalogSet([parse_catalog(REPRICED, "repriced")]), clock)  # no vid
    again = after.submit("w1", "vid", {"duration": 5}, idempotency_key="s1")
    assert (again.id, again.replayed, again.credits_used) == (job.id, True, 100)
    with pytest.raises(UnknownModel):
        after.submit("w1", "vid", {"duration": 5}, idempotency_key="s2")
    with pytest.raises(WalletNotFound):
        after.submit("nobody", "vid", {"duration": 5}, idempotency_key="s3")
    assert after.get_wallet("w1").held == 100
    clean(after)


def test_fail_releases_the_whole_hold_to_the_grants_it_came_from(billing: Billing) -> None:
    billing.create_wallet("w1")
    allowance = billing.grant("w1", 15, kind="allowance", idempotency_key="a")
    pack = billing.grant("w1", 100, kind="purchase", idempotency_key="p")
    job = billing.submit("w1", "img", generations=3, idempotency_key="s")  # 15 + 15
    remaining = {g.id: g.remaining for g in billing.list_grants("w1").items}
    assert (remaining[allowance.id], remaining[pack.id]) == (0, 85)
    failed = billing.fail(job.id, reason="provider error", idempotency_key="cb")
    assert (failed.status, failed.state, failed.credits_used) == (2, "failed", 0)
    assert failed.reason == "provider error"
    remaining = {g.id: g.remaining for g in billing.list_grants("w1").items}
    assert (remaining[allowance.id], remaining[pack.id]) == (15, 100)
    clean(billing)


def test_release_after_the_grant_expired_comes_back_as_refund_credit(
    billing: Billing, clock: Any
) -> None:
    billing.create_wallet("w1")
    billing.grant(
        "w1",
        40,
        kind="allowance",
        expires_at=clock.now() + timedelta(minutes=10),
        idempotency_key="a",
    )
    job = billing.submit("w1", "img", generations=4, idempotency_key="s", hold_ttl_s=3600)
    clock.advance(20 * 60)
    assert billing.sweep().grants_expired == 1
    failed = billing.fail(job.id, idempotency_key="cb")
    assert failed.state == "failed"
    grants = billing.list_grants("w1").items
    refund = [g for g in grants if g.kind == "refund"]
    assert len(refund) == 1 and refund[0].remaining == 40 and refund[0].source == f"job:{job.id}"
    assert billing.get_wallet("w1").available == 40
    clean(billing)


def test_release_of_a_voided_grant_goes_back_to_issued_not_the_wallet(billing: Billing) -> None:
    billing.create_wallet("w1")
    g = billing.grant("w1", 30, kind="purchase", idempotency_key="p")
    job = billing.submit("w1", "img", generations=2, idempotency_key="s")
    billing.void_grant(g.id, idempotency_key="chargeback")
    billing.fail(job.id, idempotency_key="cb")
    assert billing.get_wallet("w1").available == 0
    clean(billing)


def test_cancel_releases_like_a_failure_and_a_finished_job_cannot_be_cancelled(
    billing: Billing,
) -> None:
    funded(billing, amount=100)
    a = billing.submit("w1", "img", idempotency_key="a")
    cancelled = billing.cancel(a.id, idempotency_key="x")
    assert (cancelled.status, cancelled.state, cancelled.credits_used) == (2, "cancelled", 0)
    assert billing.cancel(a.id, idempotency_key="x2").outcome == "already_cancelled"
    b = billing.submit("w1", "img", idempotency_key="b")
    billing.complete(b.id, idempotency_key="done")
    with pytest.raises(InvalidTransition) as err:
        billing.cancel(b.id, idempotency_key="late-cancel")
    assert err.value.code == "invalid_transition"
    assert billing.get_wallet("w1").available == 90
    clean(billing)


def test_duplicate_and_out_of_order_callbacks_never_move_credits_twice(billing: Billing) -> None:
    funded(billing, amount=100)
    ok = billing.submit("w1", "img", idempotency_key="ok")
    billing.complete(ok.id, idempotency_key="c1")
    assert billing.complete(ok.id, idempotency_key="c2").outcome == "already_succeeded"
    assert billing.fail(ok.id, idempotency_key="f1").outcome == "already_succeeded"
    bad = billing.submit("w1", "img", idempotency_key="bad")
    billing.fail(bad.id, idempotency_key="f2")
    assert billing.fail(bad.id, idempotency_key="f3").outcome == "already_failed"
    after = billing.complete(bad.id, idempotency_key="c3")
    assert (after.outcome, after.state, after.credits_used) == ("already_failed", "failed", 0)
    assert billing.get_wallet("w1").available == 90
    assert [e.kind for e in billing.history("w1", limit=100).items].count("capture") == 1
    clean(billing)


def test_callback_replay_returns_the_original_outcome_and_a_changed_one_conflicts(
    billing: Billing,
) -> None:
    funded(billing, amount=100)
    job = billing.submit("w1", "img", generations=2, idempotency_key="s")
    first = billing.complete(job.id, actual_generations=1, idempotency_key="cb")
    again = billing.complete(job.id, actual_generations=1, idempotency_key="cb")
    assert again.replayed and again.outcome == first.outcome == "captured_partial"
    with pytest.raises(IdempotencyConflict):
        billing.complete(job.id, actual_generations=2, idempotency_key="cb")
    with pytest.raises(JobNotFound) as err:
        billing.complete("job_missing", idempotency_key="cb")
    assert err.value.code == "job_not_found"
    clean(billing)


# --- timeouts -----------------------------------------------------------------------------------


def test_sweep_releases_holds_past_their_limit_only(billing: Billing, clock: Any) -> None:
    funded(billing, amount=100)
    short = billing.submit("w1", "img", idempotency_key="short", hold_ttl_s=60)
    long = billing.submit("w1", "img", idempotency_key="long", hold_ttl_s=600)
    clock.advance(59)
    assert billing.sweep().holds_released == 0
    clock.advance(1)
    report = billing.sweep()
    assert (report.holds_released, report.credits_released) == (1, 10)
    assert billing.get_job(short.id).to_dict()["status"] == 2
    assert billing.get_job(short.id).state == "timed_out"
    assert billing.get_job(long.id).state == "pending"
    assert billing.sweep().holds_released == 0
    clean(billing)


def test_hold_limit_per_submit_per_model_per_wallet_then_default(
    store: Any, clock: Any, ledger_catalogs: CatalogSet
) -> None:
    b = Billing(
        store, ledger_catalogs, clock, default_hold_ttl_s=1000, hold_ttl_by_model={"vid": 500}
    )
    b.create_wallet("w", hold_ttl_s=200)
    b.create_wallet("v")
    b.grant("w", 1000, kind="purchase", idempotency_key="g")
    b.grant("v", 1000, kind="purchase", idempotency_key="g")
    t0 = clock.now()
    ttl = {
        "submit": b.submit("w", "img", idempotency_key="1", hold_ttl_s=50),
        "model": b.submit("w", "vid", {"duration": 5}, idempotency_key="2"),
        "wallet": b.submit("w", "img", idempotency_key="3"),
        "default": b.submit("v", "img", idempotency_key="4"),
    }
    got = {k: (j.hold_expires_at - t0).total_seconds() for k, j in ttl.items()}
    assert got == {"submit": 50, "model": 500, "wallet": 200, "default": 1000}


def test_success_after_timeout_is_charged_when_the_balance_allows(
    billing: Billing, clock: Any
) -> None:
    funded(billing, amount=100)
    job = billing.submit("w1", "img", generations=2, idempotency_key="s", hold_ttl_s=60)
    clock.advance(61)
    billing.sweep()
    late = billing.complete(job.id, idempotency_key="late")
    assert (late.status, late.state, late.outcome) == (
        1,
        "succeeded_after_timeout",
        "charged_after_timeout",
    )
    assert (late.credits_used, late.written_off) == (20, 0)
    assert billing.get_wallet("w1").available == 80
    assert billing.complete(job.id, idempotency_key="late-2").outcome == "already_succeeded"
    clean(billing)


def test_success_after_timeout_beyond_the_balance_is_written_off(
    billing: Billing, clock: Any
) -> None:
    funded(billing, amount=20)
    job = billing.submit("w1", "img", generations=2, idempotency_key="s", hold_ttl_s=60)
    clock.advance(61)
    billing.sweep()
    billing.submit("w1", "img", generations=2, idempotency_key="other")  # spends it all
    late = billing.complete(job.id, idempotency_key="late")
    assert (late.outcome, late.credits_used, late.written_off) == (
        "written_off_after_timeout",
        0,
        20,
    )
    assert billing.get_wallet("w1").available == 0
    clean(billing)


def test_failure_after_timeout_changes_nothing(billing: Billing, clock: Any) -> None:
    funded(billing, amount=100)
    job = billing.submit("w1", "img", idempotency_key="s", hold_ttl_s=60)
    clock.advance(60)
    billing.sweep()
    answer = billing.fail(job.id, idempotency_key="late-fail")
    assert (answer.outcome, answer.state) == ("already_timed_out", "timed_out")
    assert billing.get_wallet("w1").available == 100
    clean(billing)


# --- overdraft, free jobs, listings, history, outbox --------------------------------------


def test_overdraft_allows_spending_below_zero_up_to_the_limit_and_grants_repay_it(
    billing: Billing,
) -> None:
    billing.create_wallet("team", owner_kind="team", overdraft_limit=25)
    billing.grant("team", 10, kind="allowance", idempotency_key="a")
    job = billing.submit("team", "img", generations=3, idempotency_key="s")  # 30 = 10 + 20 debt
    w = billing.get_wallet("team")
    assert (w.available, w.debt, w.held) == (-20, 20, 30)
    with pytest.raises(InsufficientCredits) as err:
        billing.submit("team", "img", idempotency_key="s2")
    assert err.value.available == 5
    billing.complete(job.id, idempotency_key="c")
    billing.grant("team", 50, kind="purchase", idempotency_key="p")
    w = billing.get_wallet("team")
    assert (w.available, w.debt) == (30, 0)
    clean(billing)


def test_free_jobs_cost_nothing_and_show_in_usage(billing: Billing) -> None:
    billing.create_wallet("w")
    job = billing.record_free_job("w", "publishing", submitted_by="bob", idempotency_key="pub-1")
    assert (job.status, job.credits_used, job.kind) == (1, 0, "publishing")
    assert (
        billing.record_free_job("w", "publishing", submitted_by="bob", idempotency_key="pub-1").id
        == job.id
    )
    assert [j.id for j in billing.list_jobs("w").items] == [job.id]
    clean(billing)


def test_list_jobs_filters_by_status_and_state_and_pages(billing: Billing) -> None:
    funded(billing, amount=1000)
    ids = [billing.submit("w1", "img", idempotency_key=f"s{i}").id for i in range(5)]
    billing.complete(ids[0], idempotency_key="c")
    billing.fail(ids[1], idempotency_key="f")
    billing.cancel(ids[2], idempotency_key="x")
    newest_first = ids[::-1]
    assert [j.id for j in billing.list_jobs("w1", status=0).items] == newest_first[:2]
    assert [j.id for j in billing.list_jobs("w1", status=2).items] == newest_first[2:4]
    assert [j.id for j in billing.list_jobs("w1", status=2, order="asc").items] == ids[1:3]
    assert [j.id for j in billing.list_jobs("w1", state="cancelled").items] == [ids[2]]
    page = billing.list_jobs("w1", limit=2)
    rest = billing.list_jobs("w1", limit=10, cursor=page.next_cursor)
    assert [j.id for j in page.items + rest.items] == newest_first and rest.next_cursor is None
    with pytest.raises(InvalidRequest):
        billing.list_jobs("w1", status=7)


def test_every_list_pages_both_ways_with_inserts_between_pages(billing: Billing) -> None:
    """Each order walks every item there was when it started exactly once, and in order;
    items added meanwhile come at the end of an oldest-first walk and never in a
    newest-first one (they sort before its cursor).  A cursor resumes only its own order."""
    funded(billing, amount=10_000)
    for i in range(5):
        billing.submit("w1", "img", idempotency_key=f"before-{i}")
    for name in ("b", "d", "f"):
        billing.create_wallet(name)
    before_jobs = [j.id for j in billing.list_jobs("w1", limit=100, order="asc").items]
    before_history = [e.id for e in billing.history("w1", limit=100, order="asc").items]
    added = iter(range(100))

    def walk(read: Any, order: str, insert: Any) -> list[str]:
        seen: list[str] = []
        page = read(cursor=None, order=order)
        while True:
            seen += [item.id for item in page.items]
            insert(next(added))
            if page.next_cursor is None:
                return seen
            page = read(cursor=page.next_cursor, order=order)

    def add_job(i: int) -> None:
        billing.submit("w1", "img", idempotency_key=f"during-{i}")

    def jobs(**how: Any) -> Any:
        return billing.list_jobs("w1", limit=2, **how)

    newest = walk(jobs, "desc", add_job)
    assert newest == before_jobs[::-1]
    oldest = walk(jobs, "asc", add_job)
    assert oldest[:5] == before_jobs and len(oldest) == len(set(oldest)) > 5
    assert (
        oldest
        == [j.id for j in billing.list_jobs("w1", limit=100, order="asc").items][: len(oldest)]
    )

    def entries(**how: Any) -> Any:
        return billing.history("w1", limit=3, **how)

    newest = walk(entries, "desc", add_job)
    everything = [e.id for e in billing.history("w1", limit=500, order="asc").items]
    assert newest == everything[: len(newest)][::-1]
    assert set(before_history) <= set(newest)
    oldest = walk(entries, "asc", add_job)
    everything = [e.id for e in billing.history("w1", limit=500, order="asc").items]
    assert oldest == everything[: len(oldest)] and len(oldest) > len(newest)

    def wallets(**how: Any) -> Any:
        return billing.list_wallets(limit=2, **how)

    def add_wallet(i: int) -> None:
        billing.create_wallet(f"c{i:02d}")  # sorts between b and d

    by_id = walk(wallets, "asc", add_wallet)
    assert by_id == sorted(by_id) and {"b", "d", "f", "w1"} <= set(by_id)
    z_to_a = walk(wallets, "desc", add_wallet)
    assert z_to_a == sorted(z_to_a, reverse=True) and {"b", "d", "f", "w1"} <= set(z_to_a)

    ascending = billing.list_jobs("w1", limit=1, order="asc").next_cursor
    with pytest.raises(InvalidRequest) as err:
        billing.list_jobs("w1", limit=1, cursor=ascending)  # the default order: desc
    assert err.value.details["field"] == "cursor"
    with pytest.raises(InvalidRequest) as err:
        billing.history("w1", order="newest")  # type: ignore[arg-type]
    assert err.value.details["field"] == "order"


def test_history_is_newest_first_balanced_and_pages(billing: Billing) -> None:
    funded(billing, amount=100)
    job = billing.submit("w1", "img", generations=2, idempotency_key="s")
    billing.complete(job.id, actual_generations=1, idempotency_key="c")
    first = billing.history("w1", limit=2)
    rest = billing.history("w1", limit=2, cursor=first.next_cursor)
    kinds = [e.kind for e in first.items + rest.items]
    assert kinds == ["capture", "hold", "grant"] and rest.next_cursor is None
    for e in first.items + rest.items:
        assert sum(p.amount for p in e.postings) == 0
    assert [e.available_delta for e in first.items + rest.items] == [10, -20, 100]


def test_every_change_writes_one_outbox_event(billing: Billing) -> None:
    funded(billing, amount=100)
    job = billing.submit("w1", "img", idempotency_key="s")
    billing.submit("w1", "img", idempotency_key="s")  # replay: no event
    billing.complete(job.id, idempotency_key="c")
    assert events(billing) == ["wallet.created", "grant.created", "job.submitted", "job.succeeded"]


def test_audit_names_each_violation_when_a_balance_is_tampered_with(
    billing: Billing, store: Any
) -> None:
    funded(billing, amount=100)
    billing.submit("w1", "img", idempotency_key="s")
    grant_id = billing.list_grants("w1").items[0].id
    if store.backend == "memory":
        from dataclasses import replace

        store.grants[grant_id] = replace(store.grants[grant_id], remaining=1_000_000)
        store.wallets["w1"] = replace(store.wallets["w1"], held=0)
    else:
        import sqlalchemy as sa

        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE ledger_grants SET remaining = 1000000"))
            conn.execute(sa.text("UPDATE ledger_wallets SET held = 0"))
    codes = {(v.code, v.subject) for v in billing.audit()}
    assert ("grant_balance_mismatch", grant_id) in codes
    assert ("grant_remaining_out_of_range", grant_id) in codes
    assert ("wallet_held_mismatch", "w1") in codes


# --- wallets with many grants -----------------------------------------------------------------


def _every_grant(b: Billing, wallet: str, **filters: Any) -> list[Any]:
    """Every grant of the wallet, read page by page (7 a page), newest first."""
    out: list[Any] = []
    cursor = None
    while True:
        page = b.list_grants(wallet, cursor=cursor, limit=7, **filters)
        out += page.items
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def _documented_take(grants: list[Any], now: Any, amount: int) -> dict[str, int]:
    """What the documented spend order takes: priority, then soonest expiry (never-expiring
    last, by start), then oldest, then id; only grants spendable at ``now``."""
    spendable = [
        g
        for g in grants
        if g.state == "active"
        and g.remaining > 0
        and g.effective_at <= now
        and (g.expires_at is None or now < g.expires_at)
    ]
    spendable.sort(
        key=lambda g: (
            g.priority,
            g.expires_at is None,
            g.expires_at or g.effective_at,
            g.created_at,
            g.id,
        )
    )
    taken: dict[str, int] = {}
    for g in spendable:
        part = min(amount, g.remaining)
        if part:
            taken[g.id] = part
            amount -= part
        if not amount:
            break
    return taken


def _mixed_grants(b: Billing, clock: Any, wallet: str, count: int, seed: int) -> None:
    """``count`` grants of every kind, some with their own priority, expiries near and far
    (some passing while the test runs, not yet swept), some starting later, several made
    at the same instant (ties broken by id)."""
    import random

    rng = random.Random(seed)
    kinds = ["allowance", "promotional", "bonus", "compensation", "refund", "purchase"]
    start = clock.now()
    for i in range(count):
        if rng.random() < 0.6:
            clock.advance(rng.choice((1, 60)))
        expires = rng.choice((None, None, 1, 2, 5, 30))
        begins = rng.choice((None, None, None, None, 1)) if expires != 1 else None
        b.grant(
            wallet,
            rng.randint(1, 15),
            kind=rng.choice(kinds),
            priority=rng.choice((None, None, None, 5, 45)),
            expires_at=None if expires is None else start + timedelta(days=expires),
            effective_at=None if begins is None else start + timedelta(days=begins),
            idempotency_key=f"g{i}",
        )


def test_with_many_grants_the_indexed_collector_takes_exactly_the_documented_order(
    billing: Billing, clock: Any
) -> None:
    """A wallet of 120 grants of mixed kinds, priorities and expiries: each hold takes from
    exactly the grants (and amounts) the documented order names, across expiries not yet
    swept and grants not yet started, failures refilling grants and captures."""
    billing.create_wallet("many")
    _mixed_grants(billing, clock, "many", 120, seed=18)
    for step in range(40):
        if step % 10 == 5:
            clock.advance(36 * 3600)  # some expiries and starts pass; no sweep yet
        before = {g.id: g for g in _every_grant(billing, "many")}
        amount = 10 * (1 + step % 4)
        now = clock.now()
        expected = _documented_take(list(before.values()), now, amount)
        if sum(expected.values()) < amount:
            with pytest.raises(InsufficientCredits):
                billing.submit("many", "img", generations=1 + step % 4, idempotency_key=f"s{step}")
            continue
        job = billing.submit("many", "img", generations=1 + step % 4, idempotency_key=f"s{step}")
        after = {g.id: g for g in _every_grant(billing, "many")}
        taken = {
            gid: before[gid].remaining - g.remaining
            for gid, g in after.items()
            if gid in before and before[gid].remaining != g.remaining
        }
        assert taken == expected, f"step {step}"
        if step % 3 == 0:
            billing.fail(job.id, idempotency_key=f"f{step}")
        else:
            billing.complete(job.id, idempotency_key=f"c{step}")
    clean(billing)


def test_a_wallet_read_is_a_bounded_summary_that_agrees_with_the_grants(
    billing: Billing, clock: Any
) -> None:
    billing.create_wallet("many")
    _mixed_grants(billing, clock, "many", 80, seed=7)
    job = billing.submit("many", "img", generations=4, idempotency_key="s")
    billing.complete(job.id, actual_generations=3, idempotency_key="c")
    clock.advance(36 * 3600)  # some expiries and starts pass, not yet swept
    now = clock.now()
    grants = _every_grant(billing, "many")
    assert len(grants) == 80 and len({g.id for g in grants}) == 80
    assert [(g.created_at, g.id) for g in grants] == sorted(
        ((g.created_at, g.id) for g in grants), reverse=True
    )
    live = [g for g in grants if g.state == "active" and g.remaining > 0]
    view = billing.get_wallet("many")
    spendable = _documented_take(grants, now, 10**9)
    assert view.available == sum(spendable.values())
    by_kind: dict[str, list[int]] = {}
    for g in live:
        line = by_kind.setdefault(g.kind, [0, 0])
        line[0] += 1
        line[1] += g.remaining
    assert {t.kind: [t.grants, t.remaining] for t in view.grant_totals} == by_kind
    soonest = sorted(
        (g for g in live if g.expires_at is not None),
        key=lambda g: (g.expires_at, g.created_at, g.id),
    )[:5]
    assert [(e.grant_id, e.remaining, e.expires_at) for e in view.next_expiries] == [
        (g.id, g.remaining, g.expires_at) for g in soonest
    ]
    assert [g.id for g in view.grants] == list(spendable)[:5]  # deprecated: the next to spend
    # Filters: live or not, kind, expiring before.
    assert {g.id for g in _every_grant(billing, "many", active=True)} == {g.id for g in live}
    others = {g.id for g in grants} - {g.id for g in live}
    assert {g.id for g in _every_grant(billing, "many", active=False)} == others
    bonus = {g.id for g in grants if g.kind == "bonus"}
    assert {g.id for g in _every_grant(billing, "many", kind="bonus")} == bonus
    edge = now + timedelta(days=3)
    expiring = {g.id for g in grants if g.expires_at is not None and g.expires_at < edge}
    assert {g.id for g in _every_grant(billing, "many", expiring_before=edge)} == expiring
    # The sweep expires what passed: the expired grants leave the live set at once.
    assert billing.sweep().grants_expired > 0
    after = billing.get_wallet("many")
    assert after.available == view.available
    assert all(e.expires_at > now for e in after.next_expiries)
    assert {g.id for g in _every_grant(billing, "many", active=True)} == {
        g.id for g in live if g.expires_at is None or g.expires_at > now
    }
    clean(billing)


def test_grant_list_refuses_bad_filters_and_cursors_naming_the_field(billing: Billing) -> None:
    funded(billing)
    with pytest.raises(InvalidRequest, match="kind"):
        billing.list_grants("w1", kind="gold")
    with pytest.raises(InvalidRequest, match="cursor"):
        billing.list_grants("w1", cursor="bm9wZQ")
    with pytest.raises(InvalidRequest, match="limit"):
        billing.list_grants("w1", limit=0)
    with pytest.raises(InvalidRequest, match="expiring_before"):
        billing.list_grants("w1", expiring_before=datetime(2030, 1, 1))  # naive
    before_utc = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))  # before year 1 in UTC
    with pytest.raises(InvalidRequest, match="expiring_before"):
        billing.list_grants("w1", expiring_before=before_utc)
    with pytest.raises(WalletNotFound):
        billing.list_grants("nobody")
