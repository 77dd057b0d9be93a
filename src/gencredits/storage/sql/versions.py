"""Wallet versions on SQL: each unit that emits events for a wallet bumps the wallet's
``version`` by one, under the wallet's lock and in the unit's transaction, and stamps its
events with it (``wallet_version``) and their place in the unit (``version_seq``).

Every writer of a wallet holds its lock, so a wallet's versions are handed out one at a
time, in commit order: a consumer orders and deduplicates a wallet's events by
``(wallet_version, version_seq)`` whatever order a feed or a broker hands them out in.
The plain store bumps at a unit's first event for the wallet (:func:`bump_version`); a
group-commit batch bumps each wallet once for all its units (:func:`stamp_batch`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.ledger.model import Event, evolve
from gencredits.storage.sql import schema as t

__all__ = ["bump_version", "save_versions", "stamp_batch"]

_W = t.wallets
_BUMP = (
    _W.update()
    .where(_W.c.id == sa.bindparam("w_id"))
    .values(version=_W.c.version + 1)
    .returning(_W.c.version)
)
_SET = _W.update().where(_W.c.id == sa.bindparam("w_id")).values(version=sa.bindparam("v"))


def bump_version(conn: Connection, wallet_id: str) -> int | None:
    """Add one to the wallet's version and answer the new one (``None``: no such wallet)."""
    row = conn.execute(_BUMP, {"w_id": wallet_id}).first()
    return None if row is None else int(row[0])


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
    if old:
        q = sa.select(_W.c.id, _W.c.version).where(_W.c.id.in_(old))
        for wallet_id, version in conn.execute(q):
            base[wallet_id] = int(version)
            missing.discard(wallet_id)
    stamped: list[Event] = []
    version = dict(base)
    for event in events:
        if event.wallet_id in missing:  # no such wallet: nothing to version
            stamped.append(evolve(event, wallet_version=None, version_seq=None))
            continue
        if not event.version_seq:
            version[event.wallet_id] += 1
        stamped.append(evolve(event, wallet_version=version[event.wallet_id]))
    return stamped, [{"w_id": w, "v": v} for w, v in version.items() if v != base[w]]


def save_versions(conn: Connection, moved: Sequence[dict[str, object]]) -> None:
    """Write the versions :func:`stamp_batch` moved the wallets to."""
    if moved:
        conn.execute(_SET, list(moved))
