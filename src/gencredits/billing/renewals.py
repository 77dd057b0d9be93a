"""A tick's set-based renewals: many subscriptions' next cycle, written as one set.

The common case at the first of the month on a calendar-anchored platform: an active
subscription on a ``reset`` plan, no plan change pending, exactly ONE cycle due, its wallet
not in debt.  :func:`renew_set` builds the rows :func:`.subscriptions.grant_due` would write
for each (the same grants, ledger transactions, idempotency records, events, cycle row,
subscription and wallet totals: ``tests/plans/test_renewal_set.py`` compares them) without
its per-grant checks, and hands them to the store in ONE call
(:meth:`~gencredits.ledger.store.WriteUnit.write_renewals`), which writes each table's rows
with one statement.  Everything else (a pending plan, a rollover, a cancelled or past-due
subscription, several missed cycles, a wallet in debt) goes the per-subscription way,
:func:`is_plain` decides.

Each subscription is granted at most once per cycle as on the per-subscription path: the
tick locked the wallets and re-read the subscriptions under the locks, and the cycle row is
unique in the database, so a unit that raced past the first check cannot commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from gencredits.ledger import postings
from gencredits.ledger.model import Event, EventType, Grant, GrantState, Wallet, evolve
from gencredits.ledger.postings import Key
from gencredits.ledger.records import CycleRecord, Subscription, SubscriptionState
from gencredits.ledger.renewals import Renewal
from gencredits.ledger.store import WriteUnit
from gencredits.plans import PlanCatalog, cycle, cycle_start

from .ids import grant_id_for
from .subscriptions import EVENT_CYCLE_GRANTED, key_record, record_sale

__all__ = ["is_plain", "renew_set"]


def is_plain(
    sub: Subscription,
    wallet: Wallet | None,
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    at: datetime,
) -> bool:
    """Whether ``sub`` renews with :func:`renew_set` at ``at`` (see module)."""
    plan = catalog.plans.get(sub.plan)
    return (
        plan is not None
        and sub.state == SubscriptionState.ACTIVE
        and sub.pending_plan is None
        and plan.refresh == "reset"
        and "allowance" in kinds
        and (plan.bonus_credits <= 0 or "bonus" in kinds)
        and wallet is not None
        and wallet.debt == 0
        and cycle_start(sub.anchor_at, sub.next_cycle) <= at
        and at < cycle_start(sub.anchor_at, sub.next_cycle + 1)
    )


def renew_set(
    uow: WriteUnit,
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    subs: Sequence[Subscription],
    wallets: Mapping[str, Wallet],
    at: datetime,
) -> int:
    """Renew ``subs`` (each :func:`is_plain`; their wallets locked, in ``wallets``) with one
    write; the number renewed."""
    totals: dict[str, dict[str, list[int]]] = {}  # wallet -> its grant totals as they grow
    renewals = []
    payloads: dict[tuple[object, ...], dict[str, object]] = {}
    for sub in subs:
        renewal = _renewal(catalog, kinds, sub, at, payloads)
        record_sale(uow, sub.wallet_id, catalog.plans[sub.plan], renewal.cycle.granted, at)
        if renewal.grants:  # a plan of no credits leaves the wallet as it is
            mine = totals.get(sub.wallet_id)
            if mine is None:
                before = wallets[sub.wallet_id].grant_totals
                mine = totals[sub.wallet_id] = {k: list(v) for k, v in before.items()}
            for grant in renewal.grants:  # as Wallet.tallied(None, grant): each is live
                total = mine.setdefault(grant.kind, [0, 0])
                total[0] += 1
                total[1] += grant.remaining
        renewals.append(renewal)
    after = [
        evolve(
            wallets[wallet_id],
            grant_totals={k: v for k, v in sorted(mine.items()) if v[0]},
            updated_at=at,
        )
        for wallet_id, mine in totals.items()
    ]
    uow.write_renewals(renewals, after)
    return len(renewals)


def _renewal(
    catalog: PlanCatalog,
    kinds: Mapping[str, int],
    sub: Subscription,
    at: datetime,
    payloads: dict[tuple[object, ...], dict[str, object]],
) -> Renewal:
    """The rows of ``sub``'s next cycle, as ``subscriptions.grant_due`` writes them.  Equal
    event payloads are one shared object (``payloads``), which the store may then send once
    for the whole set."""
    plan = catalog.plans[sub.plan]
    due = cycle(sub.anchor_at, sub.next_cycle)
    base = f"{sub.id}/cycle/{due.number}"
    scope = f"wallet:{sub.wallet_id}"
    grants, txs, records, events = [], [], [], []
    for kind, amount in (("allowance", plan.monthly_credits), ("bonus", plan.bonus_credits)):
        if amount <= 0:
            continue
        key = f"{base}/{kind}"
        source = key[:200]
        grant = Grant(
            id=grant_id_for(sub.wallet_id, key),
            wallet_id=sub.wallet_id,
            kind=kind,
            amount=amount,
            remaining=amount,
            priority=kinds[kind],
            effective_at=due.starts_at,
            expires_at=due.ends_at,
            source=source,
            state=GrantState.ACTIVE,
            created_at=at,
        )
        grants.append(grant)
        txs.append(postings.issue(grant, repaid=0, at=at, key=Key(scope, key), memo=source))
        payload = payloads.setdefault(
            (kind, amount), {"kind": kind, "amount": amount, "debt_repaid": 0}
        )
        events.append(Event(sub.wallet_id, EventType.GRANT_CREATED, grant.id, at, payload))
        records.append(key_record(sub.wallet_id, Key(scope, key), "grant", ("grant", grant.id), at))
    granted = plan.monthly_credits + plan.bonus_credits
    record = CycleRecord(
        sub.wallet_id, sub.id, due.number, plan.id, due.starts_at, due.ends_at, granted, 0, at
    )
    payload = payloads.setdefault(
        (due.number, plan.id, granted),
        {"cycle": due.number, "plan": plan.id, "granted": granted, "rolled": 0},
    )
    events.append(Event(sub.wallet_id, EVENT_CYCLE_GRANTED, sub.id, at, payload))
    allowance = tuple(g.id for g in grants if g.kind == "allowance")
    renewed = Subscription(
        sub.id,
        sub.wallet_id,
        plan.id,
        sub.catalog,
        sub.catalog_version,
        sub.state,
        sub.anchor_at,
        due.number + 1,
        due.ends_at,
        None,  # no pending plan
        allowance,
        sub.created_at,
        at,
    )
    return Renewal(renewed, record, tuple(grants), tuple(txs), tuple(records), tuple(events))
