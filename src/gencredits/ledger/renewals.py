"""A set of renewals: what a tick writes for many subscriptions' next cycle, at once.

:class:`Renewal` holds every row one subscription's renewal writes (its cycle, grants with
their ledger transactions, idempotency records, outbox events, the subscription as renewed);
:meth:`~gencredits.ledger.store.WriteUnit.write_renewals` writes a set of them with the
wallets as they are after, in the unit's transaction.  The SQL store writes each table's
rows with one statement; :func:`write_each` is the same effect row by row (the memory store,
staged units), the reference the SQL one is held to (``tests/plans/test_renewal_set.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gencredits.ledger.model import Event, Grant, IdempotencyRecord, Transaction, Wallet
from gencredits.ledger.records import CycleRecord, Subscription

if TYPE_CHECKING:
    from gencredits.ledger.store import WriteUnit

__all__ = ["Renewal", "write_each"]


@dataclass(frozen=True, slots=True)
class Renewal:
    """Everything one subscription's renewal writes, in the order the per-subscription path
    writes it (events in this order in the outbox)."""

    subscription: Subscription  # as renewed (next cycle, next_at, allowance grants)
    cycle: CycleRecord  # unique per (wallet, subscription, number): the guard
    grants: tuple[Grant, ...]
    transactions: tuple[Transaction, ...]
    records: tuple[IdempotencyRecord, ...]
    events: tuple[Event, ...]


def write_each(uow: WriteUnit, renewals: Sequence[Renewal], wallets: Sequence[Wallet]) -> None:
    """Write ``renewals`` and ``wallets`` through the unit's row-by-row methods."""
    for r in renewals:
        for grant in r.grants:
            uow.insert_grant(grant)
        for tx in r.transactions:
            uow.record(tx)
        for record in r.records:
            uow.insert_idempotency(record)
        for event in r.events:
            uow.emit(event)
        uow.insert_cycle(r.cycle)
        uow.update_subscription(r.subscription)
    for wallet in wallets:
        uow.update_wallet(wallet)
