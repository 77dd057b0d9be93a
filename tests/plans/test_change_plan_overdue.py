"""A plan change between a subscription's renewal date and the next tick.

Found by the seeded simulation: an immediate upgrade of a subscription whose cycle had ended
but had not been renewed yet (no tick since) was refused with ``invalid_request`` naming
``expires_at`` (the new allowance would have expired at the old cycle end, before now), a
field the caller never sent.  The change now renews the due cycle first, as the tick would,
and applies to the cycle running now.  On every store, with the bundled plan catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gencredits.billing import Billing

START = datetime(2027, 1, 31, 12, tzinfo=UTC)


def _kinds(b: Billing, wallet: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in b.get_wallet(wallet).grants:
        if g.spendable:
            out[g.kind] = out.get(g.kind, 0) + g.remaining
    return out


def test_a_change_after_the_renewal_date_before_the_tick_renews_first(
    billing: Billing, clock: Any
) -> None:
    clock.set(START)
    billing.create_wallet("u")
    billing.create_wallet("d")
    sub = billing.subscribe("u", "starter", idempotency_key="s")
    other = billing.subscribe("d", "pro", idempotency_key="s")
    clock.set(datetime(2027, 3, 1, 9, tzinfo=UTC))  # renewals were due on 28 Feb; no tick yet

    up = billing.change_plan(sub.id, "pro", idempotency_key="up")
    assert (up.outcome, up.plan, up.next_cycle) == ("immediate", "pro", 2)
    assert up.next_at == datetime(2027, 3, 31, 12, tzinfo=UTC)
    # Starter's second cycle (1,250), then Pro's allowance and bonus to the end of it.
    assert _kinds(billing, "u") == {"allowance": 1250 + 4000, "bonus": 500}
    assert [c.number for c in billing.get_subscription(sub.id).cycles] == [0, 1]

    down = billing.change_plan(other.id, "starter", idempotency_key="down")
    assert (down.outcome, down.plan, down.pending_plan, down.next_cycle) == (
        "next_cycle",
        "pro",
        "starter",
        2,
    )
    # Pro's cycle 1 was granted first (its unused cycle-0 allowance rolled over, to the cap).
    assert _kinds(billing, "d") == {"allowance": 4000 + 4000, "bonus": 500}

    assert billing.tick().cycles_granted == 0  # nothing left due
    assert billing.audit() == []
