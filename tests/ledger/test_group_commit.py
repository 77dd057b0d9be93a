"""Group commit: many callers' units share one transaction; a failing unit leaves the rest."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gencredits.billing import Billing
from gencredits.db import make_engine, upgrade
from gencredits.errors import InsufficientCredits
from gencredits.ledger.batching import GroupCommitStore
from gencredits.ledger.sql import SqlStore
from gencredits.pricing import CatalogSet


def test_queued_units_commit_together_and_a_refused_one_does_not_spoil_the_batch(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/gc.db")
    upgrade(engine)
    store = GroupCommitStore(SqlStore(engine))
    billing = Billing(store, ledger_catalogs, clock)
    billing.create_wallet("w")
    billing.grant("w", 80, kind="purchase", idempotency_key="g")  # room for 8 of 16 holds
    before = store.batches
    results: list[Any] = [None] * 16

    def submit(i: int) -> None:
        try:
            results[i] = billing.submit("w", "img", idempotency_key=f"s{i}")
        except InsufficientCredits as exc:
            results[i] = exc

    def wait_for(condition: Any) -> None:
        deadline = time.monotonic() + 30
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(16)]
    with store.inner.writer_lock():  # the writer takes the first unit, then must wait
        threads[0].start()
        wait_for(lambda: store._queue.qsize() == 0)
        time.sleep(0.05)
        for t in threads[1:]:
            t.start()
        wait_for(lambda: store._queue.qsize() == 15)  # the rest queue up behind it
    for t in threads:
        t.join(timeout=60)
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    held = [r for r in results if not isinstance(r, InsufficientCredits)]
    assert (len(held), len(refused)) == (8, 8)
    assert store.batches - before == 2  # 16 submits, 2 commits
    w = billing.get_wallet("w")
    assert (w.available, w.held) == (0, 80)
    assert len(billing.list_jobs("w").items) == 8
    assert billing.audit() == []
    billing.close()


def test_two_group_commit_writers_on_one_postgresql_database_do_not_deadlock(
    postgres_url: str, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    """Two processes' writers (here: two stores) batch calls on the same wallets in random
    order; batches lock their wallets in id order, so PostgreSQL never finds a deadlock."""
    import random

    engine = make_engine(postgres_url)
    upgrade(engine)
    stores = [GroupCommitStore(SqlStore(make_engine(postgres_url))) for _ in range(2)]
    services = [Billing(s, ledger_catalogs, clock) for s in stores]
    wallets = [f"w{i}" for i in range(6)]
    for w in wallets:
        services[0].create_wallet(w)
        services[0].grant(w, 10_000, kind="purchase", idempotency_key="g")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        rng = random.Random(i)
        billing = services[i % 2]
        try:
            for k in range(15):
                job = billing.submit(rng.choice(wallets), "img", idempotency_key=f"{i}-{k}")
                billing.complete(job.id, idempotency_key=f"{i}-{k}-done")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    total = sum(services[0].get_wallet(w).available for w in wallets)
    assert total == 6 * 10_000 - 16 * 15 * 10
    assert services[0].audit() == []
    for billing in services:
        billing.close()
    engine.dispose()  # closed sessions flush their statistics
    # PostgreSQL's own count of the deadlocks it detected (and broke) in this database:
    # without ordered locking there were many, each a whole batch rolled back and retried.
    with make_engine(postgres_url).connect() as conn:
        deadlocks = conn.execute(
            sa.text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    assert deadlocks == 0
