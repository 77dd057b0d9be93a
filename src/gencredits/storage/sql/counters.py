"""The /metrics gauges as counters kept in the ledger's own transactions.

Every write of a job row (a unit of work, or a group-commit batch) adds what it changed to
``ledger_counters`` just before its transaction commits, so a scrape reads a few dozen rows
(:func:`read_gauges`) instead of every job, and sees exactly what a full scan
(:func:`scan_gauges`) would: both run from one snapshot, and a counter moves only with the
rows it counts.

Each gauge has :data:`BUCKETS` rows; a job's changes go to its wallet's routing group
(:func:`gencredits.shards.group_of`), the row keyed by that group's ``anchor`` too, so that a
sharded database keeps it on the wallet's node (docs/scaling.md).  Writers of one wallet
already take turns on its row, so two writers wait on a counter row only when their wallets
share a group; the rows are written last, after every wallet lock, in (name, bucket) order,
so they add no deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.ledger.model import Job, JobState
from gencredits.shards import ANCHORS, GROUPS, group_of
from gencredits.storage.sql.driver import RowStatement
from gencredits.storage.sql.schema import jobs, ledger_counters

__all__ = ["BUCKETS", "GAUGES", "CounterDeltas", "read_gauges", "scan_gauges"]

#: Rows per gauge, one per routing group (the migration ``0012_ledger_counters`` creates
#: them, ``0017_aggregate_anchors`` gives them their anchors).
BUCKETS = GROUPS
#: The gauges, in the order :func:`job_counts` gives them.
GAUGES = ("holds_open", "credits_held", "credits_captured", "credits_refunded")
RELEASED = (JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT)

# Run per row in (name, bucket) order (not one unnest statement: its rows' order of update
# is the plan's, and two writers must meet the shared rows in the same order).
_ADD = RowStatement(
    sa.update(ledger_counters)
    .where(
        ledger_counters.c.name == sa.bindparam("n"),
        ledger_counters.c.bucket == sa.bindparam("b"),
        ledger_counters.c.anchor == sa.bindparam("a"),
    )
    .values(value=ledger_counters.c.value + sa.bindparam("d", type_=sa.BigInteger))
)
_READ = sa.select(ledger_counters.c.name, sa.func.sum(ledger_counters.c.value)).group_by(
    ledger_counters.c.name
)


def job_counts(job: Job | None) -> tuple[int, int, int, int]:
    """What one job adds to each gauge (nothing: no job)."""
    if job is None:
        return (0, 0, 0, 0)
    return (
        int(job.state == JobState.PENDING),
        job.credits_held,
        job.credits_used,
        job.hold_amount if job.state in RELEASED else 0,
    )


class CounterDeltas:
    """What a transaction's job writes add to the counters, written once at its end."""

    def __init__(self) -> None:
        self.deltas: dict[tuple[str, int], int] = {}

    def job_changed(self, before: Job | None, after: Job) -> None:
        bucket = group_of(after.wallet_id)
        for name, old, new in zip(GAUGES, job_counts(before), job_counts(after), strict=True):
            if new != old:
                key = (name, bucket)
                self.deltas[key] = self.deltas.get(key, 0) + new - old

    def write(self, conn: Connection) -> None:
        """Add the deltas, in key order, through the driver: inside a
        :func:`~gencredits.storage.sql.driver.driver_pipeline` block they go out with the
        statements around them (no round trip of their own)."""
        changes = [
            {"n": name, "b": bucket, "a": ANCHORS[bucket], "d": delta}
            for (name, bucket), delta in sorted(self.deltas.items())
            if delta
        ]
        self.deltas = {}
        _ADD.run(conn, changes)


def read_gauges(conn: Connection) -> dict[str, int]:
    """The gauges from the counters: a few dozen rows, whatever the size of the ledger."""
    found: Mapping[str, int] = {str(n): int(v or 0) for n, v in conn.execute(_READ)}
    return {name: found.get(name, 0) for name in GAUGES}


def scan_gauges(conn: Connection) -> dict[str, int]:
    """The gauges from every job (what the counters must equal; for tests and audits)."""
    released = [state.value for state in RELEASED]
    row = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((jobs.c.state == "pending", 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(jobs.c.credits_held), 0),
            sa.func.coalesce(sa.func.sum(jobs.c.credits_used), 0),
            sa.func.coalesce(
                sa.func.sum(sa.case((jobs.c.state.in_(released), jobs.c.hold_amount), else_=0)),
                0,
            ),
        )
    ).one()
    return {name: int(value) for name, value in zip(GAUGES, row, strict=True)}
