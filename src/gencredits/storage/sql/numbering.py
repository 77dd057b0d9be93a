"""Write-order numbers (``seq``) of the tables keyed by ``(wallet_id, seq)``.

On PostgreSQL the column's identity numbers each row.  On SQLite a composite key cannot
alias the rowid, so nothing numbers it: the store does, in the writing transaction.  Every
SQLite write transaction is ``BEGIN IMMEDIATE`` (one writer in the whole file, whatever the
process), so the largest number in a table cannot move while it holds the lock: it is read
once per table and transaction (``max(seq)``, one step down the ``seq`` index only SQLite
has) and the rows are numbered from it in Python.  An entry then names its transaction's
number directly, with no lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.ledger.model import Transaction
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import BulkStatement
from gencredits.storage.sql.rows import entry_rows, numbered_entry_rows, transaction_row
from gencredits.storage.sql.statements import INSERT_ENTRY, INSERT_ENTRY_ARRAYS

__all__ = ["Numbering"]

#: keyed by ``scalars`` (see BulkStatement): a tick's set sends its shared values once
_INSERT_TXS = {s: BulkStatement(t.transactions.insert(), scalars=s) for s in (False, True)}
_INSERT_ENTRIES = BulkStatement(INSERT_ENTRY, keyed=False, columnar=INSERT_ENTRY_ARRAYS)
_INSERT_NUMBERED_ENTRIES = BulkStatement(t.entries.insert())


@functools.cache
def _max_seq(name: str) -> sa.Select[tuple[Any]]:
    table = t.metadata.tables[name]
    return sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0))


class Numbering:
    """The next ``seq`` of each table in one writing transaction (SQLite; on PostgreSQL it
    numbers nothing: ``take`` answers ``None``)."""

    def __init__(self, conn: Connection, backend: str) -> None:
        self.c = conn
        self.on = backend == "sqlite"
        self.next: dict[str, int] = {}

    def take(self, table: sa.Table, count: int) -> int | None:
        """The first of ``count`` new numbers of ``table`` (``None``: the database numbers)."""
        if not self.on:
            return None
        first = self.next.get(table.name)
        if first is None:
            first = int(self.c.execute(_max_seq(table.name)).scalar_one()) + 1
        self.next[table.name] = first + count
        return first

    def number(self, table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` of ``table``, each given its ``seq`` on SQLite (in place), in order."""
        first = self.take(table, len(rows)) if rows else None
        if first is not None:
            for i, row in enumerate(rows):
                row["seq"] = first + i
        return rows

    def write_ledger(self, txs: Sequence[Transaction], *, scalars: bool = False) -> None:
        """Insert ledger transactions and then their entries, one statement per table."""
        if not txs:
            return
        c = self.c
        tx_rows = self.number(t.transactions, [transaction_row(tx) for tx in txs])
        insert_txs = _INSERT_TXS[scalars]
        if not self.on:
            insert_txs.run(c, tx_rows)
            _INSERT_ENTRIES.run(c, [row for tx in txs for row in entry_rows(tx)])
            return
        first = self.take(t.entries, sum(len(tx.postings) for tx in txs))
        assert first is not None
        entries: list[dict[str, Any]] = []
        for tx, row in zip(txs, tx_rows, strict=True):
            entries += numbered_entry_rows(tx, row["seq"], first + len(entries))
        insert_txs.run(c, tx_rows)
        _INSERT_NUMBERED_ENTRIES.run(c, entries)
