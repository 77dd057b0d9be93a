"""Every event carries its wallet's version: a wallet's versions run 1, 2, 3... in the order
its units commit, one per unit, whatever the store, and with two processes changing one
wallet at once.  On PostgreSQL the feed itself hands one wallet's events out in that order."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from tests.outbox import settled_events

from gencredits.billing import Billing
from gencredits.ledger.model import Event
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _versions(events: list[Event], wallet_id: str) -> list[tuple[int | None, int | None]]:
    return [(e.wallet_version, e.version_seq) for e in events if e.wallet_id == wallet_id]


def test_each_unit_bumps_its_wallets_version_once(billing: Billing) -> None:
    billing.create_wallet("w1", idempotency_key="c1")
    billing.create_wallet("w2", idempotency_key="c2")
    for n in range(3):
        billing.grant("w1", 10, kind="promotional", idempotency_key=f"g{n}")
    billing.grant("w2", 10, kind="promotional", idempotency_key="h")
    billing.grant("w1", 10, kind="promotional", idempotency_key="g0")  # a replay: no event
    events = settled_events(billing)
    assert _versions(events, "w1") == [(1, 0), (2, 0), (3, 0), (4, 0)]
    assert _versions(events, "w2") == [(1, 0), (2, 0)]
    assert events[-1].to_dict()["wallet_version"] == 2


# --- the feed's order on PostgreSQL -------------------------------------------------------------


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[SqlStore]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    s = SqlStore(engine)
    yield s
    s.close()


def _wallet_row(store: SqlStore, wallet_id: str) -> None:
    from gencredits.ledger.model import Wallet

    with store.unit_of_work() as uow:
        uow.insert_wallet(Wallet(wallet_id, "user", 0, None, 0, 0, NOW, NOW))


def test_an_older_transaction_that_waited_for_the_wallet_comes_after(pg_store: SqlStore) -> None:
    """A transaction takes its id at its first lock (wallet v) and then waits for wallet w,
    held by a newer one: it commits second, so its event must come second in the feed."""
    for wallet_id in ("v", "w"):
        _wallet_row(pg_store, wallet_id)
    older = pg_store.unit_of_work()
    older_uow = older.__enter__()
    older_uow.lock_wallet("v")  # the older transaction id
    newer = pg_store.unit_of_work()
    newer_uow = newer.__enter__()
    newer_uow.lock_wallet("w")
    newer_uow.emit(Event("w", "test", "newer", NOW))

    def finish_older() -> None:
        older_uow.lock_wallet("w")  # waits for the newer one's commit
        older_uow.emit(Event("w", "test", "older", NOW))
        older.__exit__(None, None, None)

    waiter = threading.Thread(target=finish_older)
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # blocked on w's lock
    newer.__exit__(None, None, None)
    waiter.join(10)
    with pg_store.reader() as reader:
        events = reader.events(after=None, limit=10)
    assert [(e.subject_id, e.wallet_version) for e in events] == [("newer", 1), ("older", 2)]


# --- two processes hammering one wallet ----------------------------------------------------------

_WORKER = """
import json, sys, threading, time
from gencredits.billing import Billing

url, name, group, n = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
billing = Billing.from_url(url, group_commit=group)
done = []

def shared():
    for k in range(n):
        start = time.monotonic_ns()
        view = billing.grant("shared", 1, kind="promotional", idempotency_key=f"{name}-s{k}")
        done.append((start, time.monotonic_ns(), view.id))

def own():
    for k in range(n):
        billing.grant("own-" + name, 1, kind="promotional", idempotency_key=f"{name}-o{k}")

threads = [threading.Thread(target=f) for f in (shared, own)]
for t in threads:
    t.start()
for t in threads:
    t.join()
billing.close()
print(json.dumps(done))
"""

_OPS = 12


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_one_wallet_versions_follow_commit_order(
    backend: str, request: pytest.FixtureRequest, tmp_path: object
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
    else:
        url = request.getfixturevalue("postgres_url")
    billing = Billing.from_url(url)
    for wallet_id in ("shared", "own-a", "own-b"):
        billing.create_wallet(wallet_id, idempotency_key=wallet_id)
    # One process batches its writes (group commit), the other runs each in its own
    # transaction; each writes the shared wallet and one of its own from two threads.
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, name, group, str(_OPS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, group in (("a", "1"), ("b", "0"))
    ]
    done = [json.loads(w.communicate(timeout=60)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    events = settled_events(billing)
    billing.close()
    by_wallet: dict[str, list[int]] = defaultdict(list)
    version_of: dict[str, int] = {}
    for event in events:
        assert event.wallet_version is not None and event.version_seq == 0
        by_wallet[event.wallet_id].append(event.wallet_version)
        version_of[event.subject_id] = event.wallet_version
    # The feed (commit order) gives each wallet's versions in order, with no gap.
    assert by_wallet["shared"] == list(range(1, 2 * _OPS + 2))
    for own in ("own-a", "own-b"):
        assert by_wallet[own] == list(range(1, _OPS + 2))
    # A grant that committed before another began has the lower version.
    calls = [(start, end, version_of[grant]) for mine in done for start, end, grant in mine]
    for _start, end, version in calls:
        later = [v for s, _, v in calls if s > end]
        assert all(v > version for v in later)
