"""Wallet versions on SQL: each unit that emits events for a wallet bumps the wallet's
``version`` by one, under the wallet's lock and in the unit's transaction, and stamps its
events with it (``wallet_version``) and their place in the unit (``version_seq``).

Every writer of a wallet holds its lock, so a wallet's versions are handed out one at a
time, in commit order: a consumer orders and deduplicates a wallet's events by
``(wallet_version, version_seq)`` whatever order a feed or a broker hands them out in.
The plain store bumps at a unit's first event for the wallet (:func:`bump_version`); a
group-commit batch bumps each wallet once for all its units (:func:`stamp_batch`).

PostgreSQL also hands events out in (txid, seq) order (see ``SqlReader.events``), and a
transaction takes its id at its FIRST row lock: a batch (or a unit locking several wallets)
that then waits on another wallet's lock, held by a transaction with a later id, would sort
before it although it commits after it, so one wallet's events could come out of the feed
in the opposite order to their commits.  So the events' ``txid`` is the id of a
subtransaction begun once the unit (or batch) holds its locks, at its first write after
them (:func:`ordering_xid`): a later writer of the same wallet gets its lock only after
this one commits, hence a later id.  A subtransaction's id is above its top transaction's,
which stays in every snapshot's in-progress list until it ends, so the feed's horizon (the
oldest id in progress) still holds back every event that may yet commit below it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from gencredits.ledger.model import Event, evolve
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import (
    BulkStatement,
    DirectSelect,
    driver_pipeline,
    run_driver_sql,
)

__all__ = ["bump_version", "ordering_xid", "save_versions", "stamp_batch"]

_W = t.wallets
_BUMP = (
    _W.update()
    .where(_W.c.id == sa.bindparam("w_id"))
    .values(version=_W.c.version + 1)
    .returning(_W.c.version)
)
_XIDS: tuple[sa.ColumnClause[str], ...] = (
    sa.literal_column("xmin::text"),
    sa.literal_column("pg_current_xact_id()::text"),
)
_BUMP_ORDERED = (
    _W.update()
    .where(_W.c.id == sa.bindparam("w_id"))
    .values(version=_W.c.version + 1)
    .returning(_W.c.version, *_XIDS)
)
# PostgreSQL only: the wallets as one array (a prebuilt statement, whatever their number).
_TOUCH = DirectSelect(
    _W.update()
    .where(_W.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(_W.c.id.type, dimensions=1))))
    .values(version=_W.c.version)
    .returning(_W.c.id, _W.c.version, *_XIDS)
)
_SAVEPOINT = "SAVEPOINT gencredits_event_order"
_SET = BulkStatement.update(_W, ("id", "w_id"), ("version",))


def ordering_xid(row_xmin: str, top: str) -> int:
    """The 64-bit id of the (sub)transaction that wrote a row (its 32-bit ``xmin``), from
    the 64-bit id of its top transaction (same epoch, or the next one if the counter wrapped
    in between)."""
    sub, full = int(row_xmin), int(top)
    epoch, low = full >> 32, full & 0xFFFFFFFF
    return ((epoch + (sub < low)) << 32) | sub


def bump_version(
    conn: Connection, wallet_id: str, *, order: bool = False
) -> tuple[int | None, int | None]:
    """Add one to the wallet's version: (the new version or ``None`` with no such wallet,
    the events' ordering id or ``None``).  ``order`` (PostgreSQL, at a unit's first event,
    under its locks): in a new subtransaction, whose id orders the unit's events."""
    if not order:
        row = conn.execute(_BUMP, {"w_id": wallet_id}).first()
        return (None, None) if row is None else (int(row[0]), None)
    conn.exec_driver_sql(_SAVEPOINT)
    row = conn.execute(_BUMP_ORDERED, {"w_id": wallet_id}).first()
    return (None, None) if row is None else (int(row[0]), ordering_xid(row[1], row[2]))


def stamp_batch(
    conn: Connection, events: Sequence[Event], new_wallets: Collection[str]
) -> tuple[list[Event], list[dict[str, object]]]:
    """The events of a batch's units, in unit order, stamped with their wallet's versions,
    and the wallets' new versions (for :func:`save_versions`, once the batch's new wallets
    are written).  Read under the batch's wallet locks.  Each event already has its ``version_seq``
    (its place in its unit): a 0 starts the next unit of that wallet, hence its next version.
    ``new_wallets``: inserted by this batch (no version yet: they start at 0)."""
    if not events:
        return [], []
    ids = sorted({e.wallet_id for e in events})
    old = [i for i in ids if i not in new_wallets]
    base = dict.fromkeys(ids, 0)
    missing = set(old)
    order: int | None = None
    if old and conn.dialect.name == "postgresql":
        # A write after every lock (see ordering_xid); the savepoint and the touch go out
        # together (one round trip on psycopg's pipeline), run in the order sent.
        with driver_pipeline(conn):
            run_driver_sql(conn, _SAVEPOINT)
            touched = _TOUCH.send(conn, {"ids": old}).rows()
        for wallet_id, version, row_xmin, top in touched:
            base[wallet_id] = int(version)
            missing.discard(wallet_id)
            order = ordering_xid(row_xmin, top)
    elif old:
        q = sa.select(_W.c.id, _W.c.version).where(_W.c.id.in_(old))
        for wallet_id, version in conn.execute(q):
            base[wallet_id] = int(version)
            missing.discard(wallet_id)
    stamped: list[Event] = []
    version = dict(base)
    for event in events:
        if event.wallet_id in missing:  # no such wallet: nothing to version
            stamped.append(evolve(event, wallet_version=None, version_seq=None, txid=order))
            continue
        if not event.version_seq:
            version[event.wallet_id] += 1
        stamped.append(evolve(event, wallet_version=version[event.wallet_id], txid=order))
    return stamped, [{"w_id": w, "version": v} for w, v in version.items() if v != base[w]]


def save_versions(conn: Connection, moved: Sequence[dict[str, object]]) -> None:
    """Write the versions :func:`stamp_batch` moved the wallets to: one statement through
    the driver (inside a :func:`~gencredits.storage.sql.driver.driver_pipeline` block, it
    goes out with the batch's other writes)."""
    _SET.run(conn, moved)
