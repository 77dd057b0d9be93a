"""The /metrics gauges come from counters kept in the ledger's own transactions; after a
random workload (submissions, completions with fewer generations, failures, cancellations,
holds timing out, late successes, replays, refusals) they equal a scan of every job, on
each SQL store, batched or not, from threads at once."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.errors import GencreditsError
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.counters import read_gauges, scan_gauges
from gencredits.storage.sql.engine import make_engine, read_transaction, upgrade
from gencredits.storage.sql.store import SqlStore

WALLETS = 6
OPERATIONS = 40  # per thread
THREADS = 3


@pytest.fixture(params=["sqlite", "postgresql", "sqlite+group-commit", "postgresql+group-commit"])
def sql_billing(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Any, ledger_catalogs: Any
) -> Iterator[tuple[Billing, Any]]:
    kind: str = request.param
    if kind.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/counters.db"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    store: Any = SqlStore(engine)
    if kind.endswith("+group-commit"):
        store = GroupCommitStore(store)
    billing = Billing(store, ledger_catalogs, clock)
    try:
        yield billing, engine
    finally:
        billing.close()


def workload(billing: Billing, clock: Any, seed: int) -> None:
    rng = random.Random(seed)
    jobs: list[str] = []
    for i in range(OPERATIONS):
        wallet = f"w{rng.randrange(WALLETS)}"
        key = f"{seed}-{i}"
        step = rng.random()
        try:
            if step < 0.45 or not jobs:
                generations = rng.randint(1, 4)
                ttl = rng.choice([None, 30])
                jobs.append(
                    billing.submit(
                        wallet, "img", generations=generations, idempotency_key=key, hold_ttl_s=ttl
                    ).id
                )
            elif step < 0.65:
                job = rng.choice(jobs)
                billing.complete(job, actual_generations=rng.randint(1, 2), idempotency_key=key)
            elif step < 0.75:
                billing.fail(rng.choice(jobs), idempotency_key=key)
            elif step < 0.82:
                billing.cancel(rng.choice(jobs), idempotency_key=key)
            elif step < 0.9:
                billing.submit(wallet, "img", idempotency_key=f"{seed}-{i - 1}")  # a replay
            else:
                clock.advance(rng.randint(10, 40))
                billing.sweep()
        except GencreditsError:
            pass  # refused (no credits, a resolved job, a reused key): must change nothing


def test_the_counters_equal_a_scan_after_a_random_workload(
    sql_billing: tuple[Billing, Any], clock: Any
) -> None:
    billing, engine = sql_billing
    for w in range(WALLETS):
        billing.create_wallet(f"w{w}")
        billing.grant(f"w{w}", 400, kind="purchase", idempotency_key=f"fund-{w}")
    threads = [
        threading.Thread(target=workload, args=(billing, clock, seed)) for seed in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with read_transaction(engine) as conn:
        counted, scanned = read_gauges(conn), scan_gauges(conn)
    assert counted == scanned
    assert scanned["credits_captured"] > 0 and scanned["credits_refunded"] > 0
    assert scanned["holds_open"] > 0  # every gauge moved, so the test compares something
    assert not billing.audit()
