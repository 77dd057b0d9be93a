"""Report rollups on SQL (see :mod:`gencredits.ledger.rollups`): an upsert that adds to a
row's counters, in the unit's transaction or once per key for a whole group-commit batch,
and the sums a report reads (``GROUP BY`` over a range of days, served by the keys' order:
``day`` first, and ``wallet_id, day`` on the usage table)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gencredits.ledger.rollups import COUNTERS, KEYS, Rollup, RollupRow, add_counts
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import RowStatement

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["TABLES", "RollupBatch", "RollupReads", "RollupStaged", "upsert_rollups"]

TABLES: Mapping[str, sa.Table] = {
    "usage": t.usage_rollups,
    "usage_month": t.usage_month_rollups,
    "usage_total": t.usage_total_rollups,
    "flows": t.flow_rollups,
}

RollupName = tuple[str, tuple[str, ...]]


@functools.cache
def _statement(family: str, backend: str) -> RowStatement:
    """Run per row, in the order given (see :func:`upsert_rollups`)."""
    table = TABLES[family]
    insert = pg_insert(table) if backend == "postgresql" else sqlite_insert(table)
    return RowStatement(
        insert.on_conflict_do_update(
            index_elements=[table.c[name] for name in KEYS[family]],
            set_={name: table.c[name] + insert.excluded[name] for name in COUNTERS[family]},
        )
    )


def upsert_rollups(
    conn: Connection, backend: str, found: Iterable[tuple[RollupName, tuple[int, ...]]]
) -> None:
    """Add counters to their rows (made when new): one statement per family, run for each of
    its rows in key order (two writers that add to the same rows meet them in the same
    order), through the driver: inside a
    :func:`~gencredits.storage.sql.driver.driver_pipeline` block they go out with the
    statements around them (no round trip of their own)."""
    by_family: dict[str, list[dict[str, object]]] = {}
    for (family, key), counts in sorted(found):
        row: dict[str, object] = dict(zip(KEYS[family], key, strict=True))
        row.update(zip(COUNTERS[family], counts, strict=True))
        by_family.setdefault(family, []).append(row)
    for family, found_rows in by_family.items():
        _statement(family, backend).run(conn, found_rows)


class RollupReads:
    """Mixed into the SQL reader (and so the unit)."""

    c: Connection
    backend: str

    def rollup_totals(
        self,
        family: str,
        *,
        group_by: Sequence[str],
        days: tuple[str | None, str | None],
        where: Mapping[str, str],
    ) -> list[RollupRow]:
        table = TABLES[family]
        groups = [table.c[name] for name in group_by]
        counters = COUNTERS[family]
        # whole numbers back (PostgreSQL's sum of bigints is a numeric, read as a Decimal)
        sums = [sa.cast(sa.func.sum(table.c[name]), sa.BigInteger) for name in counters]
        query = sa.select(*groups, *sums)
        since, until = days
        if since is not None:
            query = query.where(table.c.day >= since)
        if until is not None:
            query = query.where(table.c.day < until)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        if groups:
            query = query.group_by(*groups).order_by(*groups)
        width = len(groups)
        found = []
        for row in self.c.execute(query):
            if row[width] is None:  # no row at all: SUM over nothing
                continue
            counts = {name: int(row[width + i]) for i, name in enumerate(counters)}
            found.append(RollupRow(tuple(str(v) for v in row[:width]), counts))
        return found


class RollupBatch:
    """Mixed into :class:`~gencredits.storage.sql.staged.BatchState`: the counters its finished
    units added, summed per key, upserted once at the batch's flush."""

    def rollup_init(self) -> None:
        self.rolled: dict[RollupName, tuple[int, ...]] = {}

    def rollup_absorb(self, added: Mapping[RollupName, tuple[int, ...]]) -> None:
        for name, counts in added.items():
            self.rolled[name] = add_counts(self.rolled.get(name), counts)

    def rollup_flush(self, conn: Connection, backend: str) -> None:
        upsert_rollups(conn, backend, self.rolled.items())


class RollupStaged:
    """Mixed into :class:`~gencredits.storage.sql.staged.StagedUnit`."""

    rolled: dict[RollupName, tuple[int, ...]]

    def add_rollup(self, rollup: Rollup) -> None:
        name = (rollup.family, rollup.key)
        self.rolled[name] = add_counts(self.rolled.get(name), rollup.counts)
