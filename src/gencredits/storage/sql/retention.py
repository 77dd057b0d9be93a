"""Retention deletes: old rows removed in bounded batches, each batch one statement served
by an index (the idempotency records' ``created_at``, migration 0015)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.storage.sql import schema as t

__all__ = ["forget_idempotency"]


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
