"""Renewals: N subscriptions due at the same moment, renewed by one tick.

The first of the month on a calendar-anchored platform: ``--subscriptions`` (default
100,000) wallets, each subscribed to Starter (1,250 credits a month, reset) one month ago,
all due at the same instant.  Set-up writes the wallets and subscriptions straight into the
tables (not timed).  Timed: ONE ``Billing.tick(now)`` on a group-commit store, which renews
``--batch`` subscriptions per unit of work, each unit a transaction of its own (their
wallets locked with one query, the subscriptions read with one, and the set's rows written
with one multi-row statement per table: ``billing/renewals.py``).
The table gives the wall time and the ticking process's own CPU time (on a machine shared
with other work, the wall time grows with the load average, also printed).  Then checked:
one cycle row, one allowance grant and one idempotency record per
subscription, and a second tick grants nothing.

Usage: ``.venv/bin/python bench/renewals.py [--subscriptions 100000] [--batch 1000]
[--backends sqlite,postgresql]``.  Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from benchdb import fresh_database
from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.plans import bundled_plans
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

DUE = datetime(2027, 3, 1, tzinfo=UTC)
SETUP_CHUNK = 10_000


def set_up(url: str, n: int) -> None:
    """n wallets, each with a Starter subscription started a month before DUE."""
    engine = make_engine(url)
    upgrade(engine)
    anchor = DUE - relativedelta(months=1)
    catalog = bundled_plans()
    with engine.begin() as conn:
        for start in range(0, n, SETUP_CHUNK):
            ids = [f"w{i:07d}" for i in range(start, min(n, start + SETUP_CHUNK))]
            conn.execute(
                t.wallets.insert(),
                [
                    {
                        "id": w,
                        "owner_kind": "user",
                        "overdraft_limit": 0,
                        "hold_ttl_s": None,
                        "held": 0,
                        "debt": 0,
                        "created_at": anchor,
                        "updated_at": anchor,
                        "extra_charge_share": None,
                        "frozen": None,
                    }
                    for w in ids
                ],
            )
            conn.execute(
                t.subscriptions.insert(),
                [
                    {
                        "wallet_id": w,
                        "id": f"sub_{w}",
                        "plan": "starter",
                        "catalog": catalog.name,
                        "catalog_version": catalog.version,
                        "state": "active",
                        "anchor_at": anchor,
                        "next_cycle": 1,
                        "next_at": DUE,
                        "pending_plan": None,
                        "allowance_grants": [],
                        "created_at": anchor,
                        "updated_at": anchor,
                    }
                    for w in ids
                ],
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))  # as a live database's statistics would be
    engine.dispose()


def renew(url: str, n: int, batch: int) -> tuple[float, float, int]:
    """(wall seconds, this process's CPU seconds, renewals) of one tick."""
    store = GroupCommitStore(SqlStore(make_engine(url)))
    billing = Billing(store, clock=ManualClock(DUE))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = billing.tick(DUE, batch=batch)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.cycles_granted == n, report
        assert billing.tick(DUE, batch=batch).cycles_granted == 0
    finally:
        billing.close()
    engine = make_engine(url)
    with engine.connect() as conn:
        cycles = conn.execute(sa.select(sa.func.count()).select_from(t.cycles)).scalar_one()
        grants = conn.execute(
            sa.select(sa.func.count()).select_from(t.grants).where(t.grants.c.kind == "allowance")
        ).scalar_one()
        keys = conn.execute(sa.select(sa.func.count()).select_from(t.idempotency)).scalar_one()
    engine.dispose()
    assert cycles == grants == keys == n, (cycles, grants, keys)
    return elapsed, cpu, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = []
    for backend in args.backends.split(","):
        with (
            tempfile.TemporaryDirectory() as folder,
            fresh_database(backend, Path(folder), "renewals") as url,
        ):
            set_up(url, args.subscriptions)
            elapsed, cpu, n = renew(url, args.subscriptions, args.batch)
        rows.append((backend, n, args.batch, elapsed, cpu, os.getloadavg()[0]))
        print(f"{backend}: {n:,} renewals in {elapsed:.1f} s", file=sys.stderr)
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"\nmachine: {machine}, Python {platform.python_version()}")
    print(
        "| backend | subscriptions due | per unit | tick (wall) | tick CPU (this process) "
        "| renewals/s | load average (1 min) |"
    )
    print("|---|---|---|---|---|---|---|")
    for backend, n, batch, elapsed, cpu, load in rows:
        print(
            f"| {backend} | {n:,} | {batch:,} | {elapsed:.1f} s | {cpu:.1f} s "
            f"| {n / elapsed:,.0f} | {load:.1f} |"
        )


if __name__ == "__main__":
    main()
