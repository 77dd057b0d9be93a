"""A tick's set of renewals on SQL: every table's rows with one statement.

:meth:`PlanWrites.write_renewals <gencredits.storage.sql.plans.PlanWrites.write_renewals>`
calls :func:`write_renewals` on the unit's connection, inside its transaction (the tick
locked the wallets and re-read the subscriptions first).  The statements are the group-commit
flush's (:class:`~gencredits.storage.sql.driver.BulkStatement`: the driver's ``executemany``
on SQLite, one ``unnest`` statement per table on PostgreSQL, pipelined into one round trip),
so the rows are exactly those the per-subscription path writes; on PostgreSQL a column with
the same value in every row (the instants, kinds, amounts, event payloads of a set that
shares a plan and a cycle) is sent once, not as an array of copies.  A cycle already recorded
violates the cycles' primary key: the statement fails, and with it the unit, which the
service runs again (it then finds the subscription renewed and skips it).
"""

from __future__ import annotations

from collections.abc import Sequence

from gencredits.ledger.model import Wallet, evolve
from gencredits.ledger.renewals import Renewal
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import BulkStatement, driver_pipeline
from gencredits.storage.sql.numbering import Numbering
from gencredits.storage.sql.plans import cycle_row
from gencredits.storage.sql.rows import event_row, grant_row, idempotency_row, wallet_update_row
from gencredits.storage.sql.staged_plans import UPDATE_SUBS, sub_change_row
from gencredits.storage.sql.statements import WALLET_CHANGE
from gencredits.storage.sql.versions import save_versions, stamp_batch

__all__ = ["write_renewals"]

_UPDATE_WALLETS = BulkStatement.update(*WALLET_CHANGE)
_INSERT_GRANTS = BulkStatement(t.grants.insert(), scalars=True)
_INSERT_IDEMS = BulkStatement(t.idempotency.insert(), scalars=True)
_INSERT_EVENTS = BulkStatement(t.outbox.insert(), scalars=True)
_INSERT_CYCLES = BulkStatement(t.cycles.insert(), scalars=True)


def write_renewals(
    numbers: Numbering, renewals: Sequence[Renewal], wallets: Sequence[Wallet]
) -> None:
    """The rows of ``renewals`` and the ``wallets`` after them, in the unit's transaction
    (``numbers``: its connection and seq numbers): one statement per table, the cycles
    first (the guard: a duplicate fails before anything else is sent)."""
    if not renewals:
        return
    c = numbers.c
    txs = [tx for r in renewals for tx in r.transactions]
    # The set is one unit: a wallet's events in it share the wallet's next version, numbered
    # in order (read and bumped under the tick's wallet locks, as a group-commit batch does).
    places: dict[str, int] = {}
    numbered = []
    for event in (e for r in renewals for e in r.events):
        places[event.wallet_id] = place = places.get(event.wallet_id, -1) + 1
        numbered.append(evolve(event, version_seq=place))
    events, versions = stamp_batch(c, numbered, ())
    with driver_pipeline(c):
        _INSERT_CYCLES.run(c, [cycle_row(r.cycle) for r in renewals])
        _INSERT_GRANTS.run(c, [grant_row(g) for r in renewals for g in r.grants])
        numbers.write_ledger(txs, scalars=True)
        _INSERT_IDEMS.run(c, [idempotency_row(x) for r in renewals for x in r.records])
        _INSERT_EVENTS.run(c, numbers.number(t.outbox, [event_row(e) for e in events]))
        subs = sorted((r.subscription for r in renewals), key=lambda s: s.id)
        UPDATE_SUBS.run(c, [sub_change_row(s) for s in subs])
        ordered = sorted(wallets, key=lambda w: w.id)
        _UPDATE_WALLETS.run(c, [wallet_update_row(w) for w in ordered])
    save_versions(c, versions)
