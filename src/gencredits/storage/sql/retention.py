"""Retention deletes: old rows removed in bounded batches, each batch one short transaction
served by an index (the idempotency records' ``created_at``, migration 0015; the outbox's
position, ``(txid, seq)``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.ledger.outbound import consumed_through
from gencredits.storage.sql import schema as t

__all__ = ["forget_events", "forget_idempotency"]


def forget_idempotency(c: Connection, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` idempotency records created before ``before``, oldest first."""
    idem = t.idempotency
    oldest = (
        sa.select(idem.c.wallet_id, idem.c.scope, idem.c.key)
        .where(idem.c.created_at < before)
        .order_by(idem.c.created_at)
        .limit(limit)
    )
    key = sa.tuple_(idem.c.wallet_id, idem.c.scope, idem.c.key)
    gone = c.execute(idem.delete().where(key.in_(oldest)))
    return int(gone.rowcount)


def forget_events(c: Connection, before: datetime, limit: int, *, postgresql: bool) -> int:
    """Delete the oldest outbox events, at most ``limit``, in delivery order, up to the first
    one created at or after ``before`` or not yet passed by every consumer
    (:func:`~gencredits.ledger.outbound.consumed_through`, read in this transaction); never
    the one with the highest seq."""
    cursors = {r.name: r.position for r in c.execute(sa.select(t.webhook_cursor))}
    endpoints = c.execute(sa.select(t.webhook_endpoints.c.id).limit(1)).first() is not None
    mark = consumed_through(cursors, endpoints)
    if mark is None:
        return 0
    o = t.outbox
    if postgresql:  # delivery order is (txid, seq); rows without a txid are never read
        passed = sa.tuple_(o.c.txid, o.c.seq) <= sa.tuple_(sa.literal(mark[0]), sa.literal(mark[1]))
        order: tuple[sa.ColumnElement[object], ...] = (o.c.txid, o.c.seq)
    else:  # one writer at a time: seq order
        passed, order = o.c.seq <= mark[1], (o.c.seq,)
    # The newest event always stays: SQLite numbers a row max(seq) + 1, so an emptied outbox
    # would hand out seqs again that cursors have passed (PostgreSQL's sequence never does).
    passed = sa.and_(passed, o.c.seq < sa.select(sa.func.max(o.c.seq)).scalar_subquery())
    oldest = c.execute(
        sa.select(o.c.seq, o.c.created_at).where(passed).order_by(*order).limit(limit)
    )
    gone: list[int] = []
    for seq, created_at in oldest:
        if created_at >= before:
            break
        gone.append(seq)
    if gone:  # ``created_at`` again: a row is never deleted young, whatever ran meanwhile
        c.execute(o.delete().where(o.c.seq.in_(gone), o.c.created_at < before))
    return len(gone)
