"""The sweep's expiring-grant announcements against the number of grants (issue 13).

W wallets of G grants each (half of them spent to zero, expiries spread over a year, every
wallet with alert rules, one in ``--ruled`` with ``expiring_days=7``) are written straight
into a migrated database; then ``Billing.sweep()`` runs once (announcing what is due) and
``--rounds`` more times (nothing left to announce: the steady state of a service sweeping
every minute).  Printed: the grants announced, each sweep's time, and the plan the database
chose for the window query (it should name ``ix_ledger_grants_expiry``).

Run: ``.venv/bin/python bench/expiry_alerts.py [--wallets 5000] [--grants 8] [--ruled 50]
[--rounds 5] [--backends sqlite postgres]``.  Loopback PostgreSQL only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa

from benchdb import fresh_database
from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.pricing import CatalogSet
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def fill(engine: sa.Engine, wallets: int, grants: int, ruled: int) -> None:
    with engine.begin() as c:
        c.execute(
            t.wallets.insert(),
            [
                {
                    "id": f"w{i}",
                    "owner_kind": "user",
                    "overdraft_limit": 0,
                    "held": 0,
                    "debt": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "grant_totals": {},
                }
                for i in range(wallets)
            ],
        )
        rows = [
            {
                "id": f"g{i}_{j}",
                "wallet_id": f"w{i}",
                "kind": "allowance",
                "amount": 10,
                "remaining": 10 if j % 2 else 0,
                "priority": 10,
                "effective_at": NOW,
                "expires_at": NOW + timedelta(days=1 + (i * grants + j) % 360),
                "source": None,
                "state": "active",
                "created_at": NOW,
                "closed_at": None,
            }
            for i in range(wallets)
            for j in range(grants)
        ]
        c.execute(t.grants.insert(), rows)
        step = max(wallets // max(ruled, 1), 1)
        c.execute(
            t.wallet_state.insert(),
            [
                {
                    "wallet_id": f"w{i}",
                    "kind": "alerts",
                    "key": "",
                    "data": {"expiring_days": 7} if ruled and i % step == 0 else {"below": [5]},
                }
                for i in range(wallets)
            ],
        )
        c.exec_driver_sql("ANALYZE")


def plan(engine: sa.Engine, store: SqlStore) -> str:
    captured: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "ledger_wallet_state" in statement and "ledger_grants" in statement:
            captured.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", grab)
    with store.reader() as reader:
        until = NOW + timedelta(days=366)
        rule = ("alerts", "expiring_days")
        reader.grants_expiring_within(NOW, until, rule=rule, start=None, limit=500)
    sa.event.remove(engine, "before_cursor_execute", grab)
    statement, params = captured[0]
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as c:
        rows = c.exec_driver_sql(
            ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, params
        )
        text = " | ".join(str(r[-1] if sqlite else r[0]) for r in rows)
    return "ix_ledger_grants_expiry" if "ix_ledger_grants_expiry" in text else text


def run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    fill(engine, args.wallets, args.grants, args.ruled)
    store = SqlStore(engine)
    billing = Billing(store, CatalogSet([]), ManualClock(NOW))
    first = time.perf_counter()
    announced = billing.sweep().expiry_alerts
    first = time.perf_counter() - first
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        assert billing.sweep().expiry_alerts == 0
        times.append(time.perf_counter() - start)
    live = args.wallets * args.grants // 2
    print(
        f"{engine.dialect.name}: {args.wallets} wallets x {args.grants} grants ({live} live), "
        f"{args.ruled} with expiring_days=7: announced {announced} in {first * 1000:.0f} ms; "
        f"steady sweep median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}); plan: {plan(engine, store)}"
    )
    billing.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wallets", type=int, default=5000)
    parser.add_argument("--grants", type=int, default=8)
    parser.add_argument("--ruled", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            with fresh_database(backend, Path(tmp), "expiry") as url:
                run(url, args)


if __name__ == "__main__":
    main()
