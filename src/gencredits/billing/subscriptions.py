"""Subscriptions inside a unit of work: granting cycles, rolling over, changing plans.

Every function here runs under the subscription's wallet lock, in ONE unit of work with the
grants it makes.  A cycle is granted at most once: the unit re-reads the subscription under
the lock (a second ticker finds it already renewed), and the cycle's row is unique per
(wallet, subscription, number) in the database, as are the keys of the grants it issues, so
even a unit that raced past the first check cannot commit a second grant.

Grants per cycle ``n`` (all through :func:`.grants.issue`, the ledger's one grant path):

* ``allowance``: the plan's monthly credits, effective at the cycle start, expiring at its end
  (``reset``: the unused part is breakage, expired by the sweep like any grant);
* ``bonus``: the plan's bonus credits, expiring at the cycle end too;
* for a ``rollover`` plan, at the start of cycle ``n + 1``: what is left of cycle ``n``'s
  allowance grants is voided and at most the cap of it issued again as an ``allowance`` grant
  that expires ``rollover_expiry_months`` later (anchored cycle starts).

Grants of other origins (packs, rolled-over credits of earlier cycles, compensation) are never
touched by a cycle: they keep their own expiry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from gencredits.errors import InvalidTransition
from gencredits.ledger.model import Event, IdempotencyRecord, evolve
from gencredits.ledger.postings import Key
from gencredits.ledger.records import CycleRecord, Subscription, SubscriptionState
from gencredits.ledger.store import WriteUnit
from gencredits.plans import (
    Plan,
    PlanCatalog,
    cycle,
    cycle_at,
    cycle_start,
    due_cycles,
    rolled_over,
)
from gencredits.plans.cycles import Cycle, change_timing

from . import grants, usage
from .ids import digest
from .inputs import GrantCredits
from .runner import need_wallet

__all__ = [
    "EVENT_CYCLE_GRANTED",
    "change_plan",
    "grant_due",
    "issue_credits",
    "key_record",
    "record_key",
    "set_state",
]

EVENT_CYCLE_GRANTED = "subscription.cycle_granted"
EVENT_ENDED = "subscription.ended"


def issue_credits(
    uow: WriteUnit,
    wallet_id: str,
    kinds: Mapping[str, int],
    *,
    amount: int,
    kind: str,
    starts: datetime,
    expires: datetime | None,
    key: str,
    now: datetime,
) -> str | None:
    """One grant through the ledger's grant path (repaying debt first); ``None`` for 0."""
    if amount <= 0:
        return None
    wallet = need_wallet(uow.get_wallet(wallet_id), wallet_id)
    asked = GrantCredits(wallet_id, amount, kind, kinds, None, expires, starts, key[:200])
    grant = grants.issue(uow, wallet, asked, key, now)
    record_key(uow, wallet_id, Key(asked.scope, key), asked.operation, ("grant", grant.id), now)
    return grant.id


def record_key(
    uow: WriteUnit,
    wallet_id: str,
    key: Key,
    operation: str,
    result: tuple[str, str],
    now: datetime,
) -> None:
    """The idempotency record of an effect a cycle or a purchase makes under its own key:
    unique in the database (a second effect under it cannot commit), and what the auditor
    pairs every keyed ledger transaction with."""
    uow.insert_idempotency(key_record(wallet_id, key, operation, result, now))


def key_record(
    wallet_id: str, key: Key, operation: str, result: tuple[str, str], now: datetime
) -> IdempotencyRecord:
    """The record :func:`record_key` writes."""
    assert key.scope is not None and key.key is not None
    fingerprint = digest(operation, key.scope, key.key)
    return IdempotencyRecord(
        wallet_id, key.scope, key.key, operation, fingerprint, result[0], result[1], None, now, None
    )


def grant_due(
    uow: WriteUnit,
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    sub: Subscription,
    now: datetime,
) -> tuple[Subscription, list[CycleRecord]]:
    """Grant every cycle of ``sub`` that has started by ``now`` (after downtime: each missed
    cycle once, with the expiries it would have had); a cancelled subscription ends at its
    cycle end instead.  Writes the subscription."""
    granted: list[CycleRecord] = []
    if sub.state not in (SubscriptionState.ACTIVE, SubscriptionState.CANCELLED):
        return sub, granted
    for due in due_cycles(sub.anchor_at, sub.next_cycle, now):
        if sub.state == SubscriptionState.CANCELLED:
            sub = evolve(sub, state=SubscriptionState.ENDED, updated_at=now)
            uow.emit(
                Event(sub.wallet_id, EVENT_ENDED, sub.id, now, {"at": due.starts_at.isoformat()})
            )
            break
        sub, record = _grant_cycle(uow, catalog, kinds, sub, due, now)
        granted.append(record)
    uow.update_subscription(sub)
    return sub, granted


def _grant_cycle(
    uow: WriteUnit,
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    sub: Subscription,
    due: Cycle,
    now: datetime,
) -> tuple[Subscription, CycleRecord]:
    rolled = 0
    ended = catalog.plans.get(sub.plan)
    if due.number > 0 and ended is not None and ended.refresh == "rollover":
        rolled = _roll_over(uow, kinds, sub, ended, due, now)
    plan = catalog.plan(sub.pending_plan or sub.plan)
    base = f"{sub.id}/cycle/{due.number}"
    allowance = issue_credits(
        uow,
        sub.wallet_id,
        kinds,
        amount=plan.monthly_credits,
        kind="allowance",
        starts=due.starts_at,
        expires=due.ends_at,
        key=f"{base}/allowance",
        now=now,
    )
    issue_credits(
        uow,
        sub.wallet_id,
        kinds,
        amount=plan.bonus_credits,
        kind="bonus",
        starts=due.starts_at,
        expires=due.ends_at,
        key=f"{base}/bonus",
        now=now,
    )
    record = CycleRecord(
        sub.wallet_id,
        sub.id,
        due.number,
        plan.id,
        due.starts_at,
        due.ends_at,
        plan.monthly_credits + plan.bonus_credits,
        rolled,
        now,
    )
    uow.insert_cycle(record)
    record_sale(uow, sub.wallet_id, plan, record.granted, now)
    payload = {"cycle": due.number, "plan": plan.id, "granted": record.granted, "rolled": rolled}
    uow.emit(Event(sub.wallet_id, EVENT_CYCLE_GRANTED, sub.id, now, payload))
    sub = evolve(
        sub,
        plan=plan.id,
        pending_plan=None,
        next_cycle=due.number + 1,
        next_at=due.ends_at,
        allowance_grants=(allowance,) if allowance else (),
        updated_at=now,
    )
    return sub, record


def _roll_over(
    uow: WriteUnit,
    kinds: Mapping[str, int],
    sub: Subscription,
    ended: Plan,
    due: Cycle,
    now: datetime,
) -> int:
    """Void what is left of the ended cycle's allowance and issue up to the cap of it again,
    expiring ``rollover_expiry_months`` cycles later."""
    left = 0
    scope = f"subscription:{sub.id}"
    for grant_id in sub.allowance_grants:
        grant = uow.get_grant(grant_id)
        if grant is None or grant.state != "active":
            continue
        left += grant.remaining
        key = Key(scope, f"cycle/{due.number}/close/{grant_id}")
        wallet = need_wallet(uow.get_wallet(sub.wallet_id), sub.wallet_id)  # as last written
        grants.close(uow, wallet, grant, voided=True, at=now, key=key)
        record_key(uow, sub.wallet_id, key, "roll_over", ("grant", grant_id), now)
    amount = rolled_over(left, ended.rollover_cap)
    expires = cycle_start(sub.anchor_at, due.number + ended.rollover_expiry_months)
    issue_credits(
        uow,
        sub.wallet_id,
        kinds,
        amount=amount,
        kind="allowance",
        starts=due.starts_at,
        expires=expires,
        key=f"{sub.id}/cycle/{due.number}/rollover",
        now=now,
    )
    return amount


def change_plan(
    uow: WriteUnit,
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    sub: Subscription,
    new: Plan,
    *,
    key: str,
    now: datetime,
) -> tuple[Subscription, str]:
    """Upgrade or downgrade: ``immediate`` (an upgrade, when the catalog says so) grants the
    new plan's allowance and bonus now, to the end of the current cycle, and keeps what is
    left of the old allowance to the cycle end (or rolls it over, by the plan's policy);
    ``next_cycle`` records the plan to take effect at the next cycle.  Returns the timing."""
    if sub.state != SubscriptionState.ACTIVE:
        raise InvalidTransition(
            f"subscription {sub.id} is {sub.state}: only an active one changes plan",
            details={"subscription_id": sub.id, "state": sub.state},
        )
    if sub.next_at <= now:  # a renewal is due and no tick has run yet: renew first, as the
        sub, _ = grant_due(uow, catalog, kinds, sub, now)  # tick would, then change this cycle
    old = catalog.plan(sub.plan)
    if new.id == old.id:
        sub = evolve(sub, pending_plan=None, updated_at=now)
        uow.update_subscription(sub)
        return sub, "unchanged"
    timing = change_timing(old.rank(), new.rank(), catalog.upgrade)
    if timing == "next_cycle":
        sub = evolve(sub, pending_plan=new.id, updated_at=now)
        uow.update_subscription(sub)
        return sub, timing
    base = f"{sub.id}/change/{key}"
    made = []
    for kind, amount in (("allowance", new.monthly_credits), ("bonus", new.bonus_credits)):
        made.append(
            issue_credits(
                uow,
                sub.wallet_id,
                kinds,
                amount=amount,
                kind=kind,
                starts=now,
                expires=sub.next_at,
                key=f"{base}/{kind}",
                now=now,
            )
        )
    allowance = tuple(g for g in (*sub.allowance_grants, made[0]) if g)
    sub = evolve(sub, plan=new.id, pending_plan=None, allowance_grants=allowance, updated_at=now)
    uow.update_subscription(sub)
    return sub, timing


def set_state(
    uow: WriteUnit,
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    sub: Subscription,
    action: str,
    now: datetime,
) -> tuple[Subscription, str]:
    """Cancel (no renewal; credits stay to the cycle end), mark past due (nothing new is
    granted, nothing is taken away), or resume (a cancelled subscription before its end; a
    past-due one once paid: the unpaid cycles are skipped and the current one granted)."""
    state = sub.state
    if action == "cancel" and state in ("active", "past_due"):
        sub = evolve(sub, state=SubscriptionState.CANCELLED, updated_at=now)
    elif action == "past_due" and state == "active":
        sub = evolve(sub, state=SubscriptionState.PAST_DUE, updated_at=now)
    elif action == "resume" and state == "cancelled" and now < sub.next_at:
        sub = evolve(sub, state=SubscriptionState.ACTIVE, updated_at=now)
    elif action == "resume" and state == "past_due":
        current = max(cycle_at(sub.anchor_at, now), sub.next_cycle)
        sub = evolve(
            sub,
            state=SubscriptionState.ACTIVE,
            next_cycle=current,
            next_at=cycle(sub.anchor_at, current).starts_at,
            allowance_grants=() if current > sub.next_cycle else sub.allowance_grants,
            updated_at=now,
        )
        return grant_due(uow, catalog, kinds, sub, now)[0], "resumed"
    elif (action, state) in (("cancel", "cancelled"), ("past_due", "past_due")):
        return sub, f"already_{state}"
    else:
        raise InvalidTransition(
            f"subscription {sub.id} is {state}: it cannot {action.replace('_', ' ')}",
            details={"subscription_id": sub.id, "state": state, "action": action},
        )
    uow.update_subscription(sub)
    return sub, {"cancel": "cancelled", "past_due": "past_due", "resume": "resumed"}[action]


def record_sale(uow: WriteUnit, wallet_id: str, plan: Plan, granted: int, at: datetime) -> None:
    """A paid cycle's sale, for the reports (a yearly plan's price is sold a twelfth a month)."""
    if plan.price:
        paid = plan.price if plan.period == "month" else plan.price / 12
        usage.sold(uow, wallet_id, "plan", (paid, plan.currency), (granted, plan.bonus_credits), at)
