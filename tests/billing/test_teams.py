"""Team wallets in the domain's words, on every store, over simulated months (ManualClock).

The test catalog prices ``img`` at 10 credits a generation.  A team ``acme`` is made on
15 January 2026, so its cycles run from the 15th to the 15th.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.errors import (
    InsufficientCredits,
    InvalidRequest,
    MemberCapExceeded,
    MemberNotFound,
    NotAMember,
)

MADE = datetime(2026, 1, 15, 9, tzinfo=UTC)


def _team(billing: Billing, clock: Any, credits: int = 1_000) -> None:
    clock.set(MADE)
    billing.create_team("acme")
    billing.grant("acme", credits, kind="purchase", idempotency_key="pack")


def _member(billing: Billing, member: str) -> Any:
    return next(m for m in billing.get_team("acme").members if m.member_id == member)


def test_member_cap_enforced_at_hold_and_a_refund_gives_room_back(
    billing: Billing, clock: Any
) -> None:
    """Ann's cap is 50 a cycle; the team has 1,000.  Five images (4 + 1 generations) hold
    50; the sixth is refused although the team has credits; a failed job gives its 10
    back, a smaller capture the rest of its hold."""
    _team(billing, clock)
    billing.set_member("acme", "ann", cap=50)
    four = billing.submit("acme", "img", generations=4, submitted_by="ann", idempotency_key="a1")
    billing.submit("acme", "img", submitted_by="ann", idempotency_key="a2")
    assert _member(billing, "ann").used == 50
    with pytest.raises(MemberCapExceeded) as refused:
        billing.submit("acme", "img", submitted_by="ann", idempotency_key="a3")
    details = refused.value.details
    assert (details["cap"], details["used"], details["shortfall"]) == (50, 50, 10)
    assert refused.value.http_status == 402
    assert billing.get_wallet("acme").available == 950  # nothing recorded by the refusal

    billing.complete(four.id, actual_generations=2, idempotency_key="a1-done")  # 20 of 40
    assert _member(billing, "ann").used == 30
    billing.submit("acme", "img", generations=2, submitted_by="ann", idempotency_key="a4")
    assert _member(billing, "ann").cap_left == 0
    assert billing.get_wallet("acme").balance == 1_000 - 20


def test_cap_resets_next_cycle_not_once_for_life(billing: Billing, clock: Any) -> None:
    """The peer's cap was a lifetime total; here it is per cycle, reset on the 15th."""
    _team(billing, clock)
    billing.set_member("acme", "ann", cap=20)
    job = billing.submit("acme", "img", generations=2, submitted_by="ann", idempotency_key="j1")
    billing.complete(job.id, idempotency_key="j1-ok")
    with pytest.raises(MemberCapExceeded):
        billing.submit("acme", "img", submitted_by="ann", idempotency_key="j2")
    clock.set(datetime(2026, 2, 14, 23, 59, tzinfo=UTC))  # still January's cycle
    with pytest.raises(MemberCapExceeded):
        billing.submit("acme", "img", submitted_by="ann", idempotency_key="j3")
    clock.set(datetime(2026, 2, 15, 0, 0, tzinfo=UTC))
    member = _member(billing, "ann")
    assert (member.used, member.cycle_start) == (0, datetime(2026, 2, 15, tzinfo=UTC))
    billing.submit("acme", "img", generations=2, submitted_by="ann", idempotency_key="j4")
    assert _member(billing, "ann").used == 20


def test_per_seat_allowance_is_spent_before_the_shared_pool(billing: Billing, clock: Any) -> None:
    """Each seat has 30 credits a cycle, spent first; then the pool; Bob cannot spend Ann's
    seat; an unused seat allowance expires with the cycle."""
    _team(billing, clock, credits=100)
    billing.set_member("acme", "ann", seat_credits=30)
    billing.set_member("acme", "bob", seat_credits=30)
    jobs = [billing.submit("acme", "img", generations=2, submitted_by="ann", idempotency_key="s1")]
    ann = _member(billing, "ann")
    assert (ann.seat_left, ann.used) == (10, 20)
    assert billing.get_wallet("acme").available == 100 + 10  # the pool untouched
    jobs.append(
        billing.submit("acme", "img", generations=3, submitted_by="ann", idempotency_key="s2")
    )
    assert _member(billing, "ann").seat_left == 0
    assert billing.get_wallet("acme").available == 80  # 10 from the seat, 20 from the pool
    jobs.append(billing.submit("acme", "img", submitted_by="bob", idempotency_key="s3"))
    assert _member(billing, "bob").seat_left == 20
    assert _member(billing, "ann").seat_left == 0  # Bob's hold did not touch Ann's seat
    for job in jobs:
        billing.complete(job.id, idempotency_key=f"{job.id}-ok")
    assert billing.get_wallet("acme").available == 80 + 20  # Bob's seat has 20 left
    clock.set(datetime(2026, 2, 15, 1, tzinfo=UTC))
    billing.sweep()
    assert billing.get_wallet("acme").available == 80  # Bob's unused 20 expired
    assert billing.audit() == []


def test_removed_members_pending_job_still_resolves_and_refunds(
    billing: Billing, clock: Any
) -> None:
    _team(billing, clock)
    billing.set_member("acme", "ann", cap=100)
    failing = billing.submit("acme", "img", generations=3, submitted_by="ann", idempotency_key="r1")
    timing_out = billing.submit(
        "acme", "img", submitted_by="ann", idempotency_key="r2", hold_ttl_s=60
    )
    removed = billing.remove_member("acme", "ann")
    assert (removed.active, removed.used) == (False, 40)
    with pytest.raises(NotAMember):
        billing.submit("acme", "img", submitted_by="ann", idempotency_key="r3")
    billing.fail(failing.id, idempotency_key="r1-fail")
    clock.advance(120)
    assert billing.sweep().holds_released == 1
    assert billing.get_wallet("acme").available == 1_000
    assert _member(billing, "ann").used == 0
    billing.complete(timing_out.id, idempotency_key="r2-late")  # a late success: charged
    assert _member(billing, "ann").used == 10
    back = billing.set_member("acme", "ann", cap=10)  # re-added: the cycle's usage stays
    assert (back.active, back.cap_left) == (True, 0)
    with pytest.raises(MemberCapExceeded):
        billing.submit("acme", "img", submitted_by="ann", idempotency_key="r4")
    assert billing.audit() == []


def test_team_submissions_need_a_member(billing: Billing, clock: Any) -> None:
    _team(billing, clock)
    with pytest.raises(InvalidRequest) as missing:
        billing.submit("acme", "img", idempotency_key="n1")
    assert missing.value.details["field"] == "submitted_by"
    with pytest.raises(NotAMember):
        billing.submit("acme", "img", submitted_by="eve", idempotency_key="n2")
    with pytest.raises(MemberNotFound):
        billing.remove_member("acme", "eve")
    assert billing.get_wallet("acme").held == 0


def test_the_peer_cap_checked_only_at_settlement_is_checked_at_hold(
    billing: Billing, clock: Any
) -> None:
    """A peer counted a member's usage at settlement only: pending jobs never counted, so
    the cap never enforced.  Here usage counts from the hold, before any callback."""
    _team(billing, clock)
    billing.set_member("acme", "ann", cap=30)
    for i in range(3):
        billing.submit("acme", "img", submitted_by="ann", idempotency_key=f"p{i}")
    with pytest.raises(MemberCapExceeded):
        billing.submit("acme", "img", submitted_by="ann", idempotency_key="p3")
    assert billing.get_wallet("acme").held == 30


def test_cap_refusal_comes_before_insufficient_credits(billing: Billing, clock: Any) -> None:
    _team(billing, clock, credits=10)
    billing.set_member("acme", "ann", cap=1_000)
    with pytest.raises(InsufficientCredits):
        billing.submit("acme", "img", generations=2, submitted_by="ann", idempotency_key="x1")
    assert _member(billing, "ann").used == 0  # a refused hold counts nothing


def test_cycle_anchored_on_the_31st_follows_short_months(billing: Billing, clock: Any) -> None:
    clock.set(datetime(2026, 1, 31, 12, tzinfo=UTC))
    team = billing.create_team("acme")
    assert team.anchor_day == 31
    clock.set(datetime(2026, 2, 28, 1, tzinfo=UTC))
    team = billing.get_team("acme")
    assert (team.cycle_start, team.cycle_end) == (
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 31, tzinfo=UTC),
    )


def test_many_members_at_once_never_pass_their_caps(billing: Billing, clock: Any) -> None:
    """Eight members submit 6 images each at once, against caps of 30: exactly three of
    each member's holds are admitted, whatever the interleaving, on every store."""
    _team(billing, clock, credits=10_000)
    members = [f"m{i}" for i in range(8)]
    for member in members:
        billing.set_member("acme", member, cap=30)
    admitted: dict[str, int] = dict.fromkeys(members, 0)
    lock = threading.Lock()
    barrier = threading.Barrier(len(members) * 2)
    failures: list[BaseException] = []

    def worker(member: str, half: int) -> None:
        barrier.wait()
        for k in range(3):
            try:
                billing.submit(
                    "acme", "img", submitted_by=member, idempotency_key=f"{member}-{half}-{k}"
                )
            except MemberCapExceeded:
                continue
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)
                return
            with lock:
                admitted[member] += 1

    threads = [threading.Thread(target=worker, args=(m, h)) for m in members for h in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert admitted == dict.fromkeys(members, 3)
    assert [m.used for m in billing.get_team("acme").members] == [30] * 8
    assert billing.get_wallet("acme").held == 240
    assert billing.audit() == []


def test_team_operations_replay_under_a_key(billing: Billing, clock: Any) -> None:
    _team(billing, clock)
    first = billing.set_member("acme", "ann", cap=5, idempotency_key="k")
    again = billing.set_member("acme", "ann", cap=5, idempotency_key="k")
    assert (again.replayed, again.outcome, again.cap) == (True, first.outcome, 5)
    clock.advance(delta=timedelta(days=40))
    assert billing.create_team("acme").outcome == "exists"


def test_the_audit_rebuilds_member_usage_from_the_jobs(billing: Billing, clock: Any) -> None:
    """The usage counter is a cache of the member's jobs: the audit recomputes it and names
    a counter that drifted (as the peer's, stuck at zero, would have)."""
    from gencredits.ledger.store import UnitHints

    _team(billing, clock)
    billing.set_member("acme", "ann", cap=100)
    billing.submit("acme", "img", generations=2, submitted_by="ann", idempotency_key="u1")
    assert billing.audit() == []
    billing.store.run_unit(
        lambda uow: uow.put_state("acme", "usage", "2026-01-15/ann", {"used": 0}), UnitHints()
    )
    (problem,) = billing.audit()
    assert (problem.code, problem.subject) == ("member_usage_mismatch", "acme/2026-01-15/ann")
    assert "usage 0" in problem.message and "20" in problem.message


def test_member_near_cap_alert_fires_once_per_crossing(billing: Billing, clock: Any) -> None:
    """At 80% of a cap of 50 (40 credits): one alert when Ann reaches it, none while she
    stays above it, another after a refund took her below and she crossed again."""
    from tests.outbox import settled_events

    _team(billing, clock)
    billing.set_member("acme", "ann", cap=50)
    billing.submit("acme", "img", generations=3, submitted_by="ann", idempotency_key="c1")
    last = billing.submit("acme", "img", submitted_by="ann", idempotency_key="c2")  # 40
    billing.submit("acme", "img", submitted_by="ann", idempotency_key="c3")  # 50
    billing.fail(last.id, idempotency_key="c2-fail")  # 40: still at the level
    billing.cancel(
        billing.submit("acme", "img", submitted_by="ann", idempotency_key="c4").id,
        idempotency_key="c4-cancel",
    )
    first = billing.list_jobs("acme", order="asc").items[0]
    billing.fail(first.id, idempotency_key="c1-fail")  # 10: below the level, re-armed
    billing.submit("acme", "img", generations=3, submitted_by="ann", idempotency_key="c5")
    events = [e for e in settled_events(billing) if e.type == "alert.member_near_cap"]
    assert [(e.payload["used"], e.payload["level"]) for e in events] == [(40, 40), (40, 40)]
