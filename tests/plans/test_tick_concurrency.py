"""Two workers ticking at once, each with its own connection pool (as two machines would):
every due cycle is granted exactly once, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.clock import ManualClock

from .test_scenarios import PLANS, START

SUBSCRIPTIONS = 30
WORKERS = 2


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/tick.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_two_workers_ticking_at_once_grant_each_cycle_once(
    database_url: str, ledger_catalogs: Any
) -> None:
    from gencredits.plans import parse_plans

    plans = parse_plans(PLANS, "test-plans")
    clock = ManualClock(START)
    setup = Billing.from_url(database_url, ledger_catalogs, clock, plans=plans)
    for i in range(SUBSCRIPTIONS):
        setup.create_wallet(f"w{i:03}")
        setup.subscribe(f"w{i:03}", "roll" if i % 2 else "starter", idempotency_key="s")
    later = ManualClock(datetime(2027, 4, 30, 13, tzinfo=UTC))  # three cycles due each
    workers = [
        Billing.from_url(database_url, ledger_catalogs, later, plans=plans) for _ in range(WORKERS)
    ]
    barrier = threading.Barrier(WORKERS)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def tick(worker: Billing) -> None:
        barrier.wait()
        try:
            for _ in range(3):
                reports.append(worker.tick(batch=7))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.cycles_granted for r in reports) == 3 * SUBSCRIPTIONS
    for i in range(SUBSCRIPTIONS):
        (sub,) = setup.list_subscriptions(f"w{i:03}")
        assert [c.number for c in setup.get_subscription(sub.id).cycles] == [0, 1, 2, 3]
        fresh = [g for g in setup.list_grants(f"w{i:03}", limit=500).items if g.amount == 1000]
        assert len(fresh) == 4
    assert setup.audit() == []
    for b in (setup, *workers):
        b.close()
