"""Group commit: many callers' units share one transaction; a failing unit leaves the rest."""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gencredits.billing import Billing
from gencredits.billing.ids import job_id_for
from gencredits.errors import InsufficientCredits
from gencredits.pricing import CatalogSet
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import READONLY_OPTION, make_engine, upgrade
from gencredits.storage.sql.store import SqlStore


def _sqlite_group(
    tmp_path: Path, catalogs: CatalogSet, clock: Any, credits: int
) -> tuple[GroupCommitStore, Billing]:
    """A group-commit service on a SQLite file with wallet ``w`` holding ``credits``."""
    engine = make_engine(f"sqlite:///{tmp_path}/gc.db")
    upgrade(engine)
    store = GroupCommitStore(SqlStore(engine))
    billing = Billing(store, catalogs, clock)
    billing.create_wallet("w")
    billing.grant("w", credits, kind="purchase", idempotency_key="g")
    return store, billing


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.002)
    assert condition()


def test_queued_units_commit_together_and_a_refused_one_does_not_spoil_the_batch(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    store, billing = _sqlite_group(tmp_path, ledger_catalogs, clock, 80)  # 8 of 16 holds
    before = store.batches
    results: list[Any] = [None] * 16

    def submit(i: int) -> None:
        try:
            results[i] = billing.submit("w", "img", idempotency_key=f"s{i}")
        except InsufficientCredits as exc:
            results[i] = exc

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(16)]
    with store.inner.writer_lock():  # the writer takes the first unit, then must wait
        threads[0].start()
        _wait_for(lambda: store._queue.qsize() == 0)
        time.sleep(0.05)
        for t in threads[1:]:
            t.start()
        _wait_for(lambda: store._queue.qsize() == 15)  # the rest queue up behind it
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


def _one_batch(billing: Billing, store: GroupCommitStore, calls: list[Any]) -> list[Any]:
    """Run ``calls`` (each on its own thread, queued in this order) as ONE batch.

    SQLite only: the writer takes a first "plug" call and waits for the writer lock held here;
    meanwhile the calls queue up behind it, and the writer takes them all at once."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    plug = threading.Thread(target=lambda: billing.create_wallet("plug"))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with store.inner.writer_lock():
        plug.start()
        _wait_for(lambda: store._queue.qsize() == 0)
        time.sleep(0.05)  # the writer holds the plug and waits for the lock
        for i, t in enumerate(threads):
            t.start()
            _wait_for(lambda i=i: store._queue.qsize() == i + 1)
    for t in [plug, *threads]:
        t.join(timeout=60)
    return results


def test_calls_in_one_batch_see_each_others_writes_and_a_refused_one_leaves_nothing(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    store, billing = _sqlite_group(tmp_path, ledger_catalogs, clock, 25)
    first_job = job_id_for(clock.now(), "w", "s1")  # the clock stands still
    before = store.batches
    results = _one_batch(
        billing,
        store,
        [
            partial(billing.submit, "w", "img", idempotency_key="s1"),
            partial(billing.submit, "w", "img", idempotency_key="s1"),  # a retry: a replay
            partial(billing.complete, first_job, idempotency_key="done"),  # submitted just now
            partial(billing.submit, "w", "img", generations=3, idempotency_key="s2"),  # 30 > 15
            partial(billing.submit, "w", "img", idempotency_key="s3"),
        ],
    )
    assert store.batches - before == 2  # the plug, then the five calls together
    held, replay, completed, refused, second = results
    assert (held.id, held.outcome, held.credits_used) == (first_job, "held", 10)
    assert (replay.id, replay.replayed) == (first_job, True)
    assert (completed.state, completed.outcome) == ("succeeded", "captured")
    assert isinstance(refused, InsufficientCredits)
    assert refused.details["available"] == 15  # it saw the hold made earlier in its batch
    assert second.outcome == "held"
    wallet = billing.get_wallet("w")
    assert (wallet.available, wallet.held) == (5, 10)
    assert [j.id for j in billing.list_jobs("w", order="asc").items] == [first_job, second.id]
    assert billing.audit() == []
    billing.close()


def test_a_batch_costs_the_same_statements_whatever_its_size(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    """Batching is about statements, not only commits: a batch of 16 holds on one wallet
    runs exactly as many SQL statements as a batch of 4."""
    store, billing = _sqlite_group(tmp_path, ledger_catalogs, clock, 10_000)
    statements: list[str] = []
    counting = [False]

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if counting[0] and threading.current_thread().name.startswith("gencredits-group"):
            statements.append(statement)

    billing.create_wallet("plug")  # the same plug call before both batches
    per_batch = []
    for size in (4, 16):
        calls = [
            partial(billing.submit, "w", "img", idempotency_key=f"{size}-{i}") for i in range(size)
        ]
        statements.clear()
        counting[0] = True
        results = _one_batch(billing, store, calls)
        counting[0] = False
        assert [r.outcome for r in results] == ["held"] * size
        per_batch.append(len(statements))
    assert per_batch[0] == per_batch[1]
    assert billing.get_wallet("w").held == (4 + 16) * 10
    assert billing.audit() == []
    billing.close()


def test_a_conflict_when_the_batch_is_written_fails_only_the_call_that_caused_it(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    """A unique key broken at write time (here: a unit inserting a wallet that exists, as a
    racing process would) must not fail the calls batched with it: the batch is run again one
    call at a time and only the offending call gets the conflict."""
    from gencredits.ledger.model import Wallet
    from gencredits.ledger.store import RetryableConflict, UnitHints

    store, billing = _sqlite_group(tmp_path, ledger_catalogs, clock, 100)

    def insert_existing_wallet(uow: Any) -> None:  # no lock, so the batch cannot know
        now = clock.now()
        uow.insert_wallet(Wallet("plug", "team", 0, None, 0, 0, now, now))

    billing.create_wallet("plug")
    run_unit, calls = store.run_unit, []

    def counted(unit: Any, hints: UnitHints) -> Any:
        calls.append(unit)
        return run_unit(unit, hints)

    store.run_unit = counted  # type: ignore[method-assign]
    results = _one_batch(
        billing,
        store,
        [
            partial(billing.submit, "w", "img", idempotency_key="a"),
            partial(run_unit, insert_existing_wallet, UnitHints()),
            partial(billing.submit, "w", "img", idempotency_key="b"),
        ],
    )
    assert results[0].outcome == "held" and results[2].outcome == "held"
    assert len(calls) == 1 + 2  # the plug and the two submits, each once: nobody retried
    assert isinstance(results[1], RetryableConflict)
    wallet = billing.get_wallet("w")
    assert (wallet.available, wallet.held) == (80, 20)
    assert billing.get_wallet("plug").owner_kind == "user"  # the first one stands
    assert billing.audit() == []
    billing.close()


def test_a_value_that_cannot_be_written_fails_only_its_own_call(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    """A row that cannot be stored fails when the batch is written; the batch is run again
    one call at a time, so the calls batched with it still succeed."""
    from gencredits.ledger.model import Event
    from gencredits.ledger.store import UnitHints

    store, billing = _sqlite_group(tmp_path, ledger_catalogs, clock, 100)

    def emit_unstorable(uow: Any) -> None:
        uow.emit(Event("w", "test.event", "w", clock.now(), {"value": object()}))

    billing.create_wallet("plug")
    results = _one_batch(
        billing,
        store,
        [
            partial(billing.submit, "w", "img", idempotency_key="a"),
            partial(store.run_unit, emit_unstorable, UnitHints()),
            partial(billing.submit, "w", "img", idempotency_key="b"),
        ],
    )
    assert results[0].outcome == "held" and results[2].outcome == "held"
    assert isinstance(results[1], Exception) and "serializ" in str(results[1])
    assert billing.get_wallet("w").held == 20
    assert [e.type for e in billing.events(limit=500)].count("test.event") == 0
    assert billing.audit() == []
    billing.close()


def test_a_missing_wallet_locks_nothing_so_its_key_is_read_again_later_in_the_batch(
    postgres_url: str, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    """PostgreSQL: a call on a wallet that does not exist yet locks no row, so what it read
    (no record under its idempotency key) may be stale for a later call of the same batch.
    Here another process creates the wallet and makes the submit meanwhile; the client's
    retry in the same batch must replay that submit, not hold a second time."""
    from gencredits.errors import WalletNotFound
    from gencredits.ledger.store import UnitHints
    from gencredits.storage.sql.batch import _Pending

    upgrade(make_engine(postgres_url))
    store = GroupCommitStore(SqlStore(make_engine(postgres_url)))
    billing = Billing(store, ledger_catalogs, clock)
    other = Billing(SqlStore(make_engine(postgres_url)), ledger_catalogs, clock)
    units: list[Any] = []
    run_unit = store.run_unit
    store.run_unit = lambda unit, hints: units.append(_Pending(unit, hints))  # type: ignore[assignment,method-assign]
    billing.submit("late", "img", idempotency_key="k")  # too early: no wallet yet
    billing.submit("late", "img", idempotency_key="k")  # the client's retry
    store.run_unit = run_unit  # type: ignore[method-assign]

    def other_process(_uow: Any) -> str:
        other.create_wallet("late")
        other.grant("late", 10, kind="purchase", idempotency_key="g")  # room for one hold
        return other.submit("late", "img", idempotency_key="k").id

    batch = [units[0], _Pending(other_process, UnitHints()), units[1]]
    store._run_batch(batch)
    first, made, retry = batch
    assert isinstance(first.error, WalletNotFound)
    assert retry.error is None, retry.error
    assert (retry.result.id, retry.result.replayed) == (made.result, True)
    wallet = billing.get_wallet("late")
    assert (wallet.available, wallet.held) == (0, 10)
    assert billing.audit() == []
    billing.close()
    other.close()


def test_a_caller_is_answered_after_its_own_batch_commits_and_before_the_next_one_does(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    """Pipelined answers: a batch's callers may be woken as late as just before the next batch
    commits (they then work while it waits on the disk), never before their own batch has
    committed, and never after the next one has."""
    store, billing = _sqlite_group(tmp_path, ledger_catalogs, clock, 1000)
    reader = make_engine(f"sqlite:///{tmp_path}/gc.db")

    def committed(key: str) -> bool:
        with reader.connect().execution_options(**{READONLY_OPTION: True}) as conn:
            found = conn.execute(
                sa.text("SELECT count(*) FROM ledger_jobs WHERE id = :id"),
                {"id": job_id_for(clock.now(), "w", key)},
            ).scalar()
        return found == 1

    # Every commit from now on takes 0.2 s before it reaches the database.
    sa.event.listen(store.engine, "commit", lambda _conn: time.sleep(0.2))
    seen: dict[str, tuple[bool, bool]] = {}

    def submit(key: str) -> None:
        billing.submit("w", "img", idempotency_key=key)
        seen[key] = (committed(key), committed("b1"))  # own batch, the second batch

    first = threading.Thread(target=submit, args=("a",))
    later = [threading.Thread(target=submit, args=(k,)) for k in ("b1", "b2")]
    with store.inner.writer_lock():  # the writer takes "a" alone; b1 and b2 queue behind it
        first.start()
        _wait_for(lambda: store._queue.qsize() == 0)
        time.sleep(0.05)
        for t in later:
            t.start()
        _wait_for(lambda: store._queue.qsize() == 2)
    for t in (first, *later):
        t.join(timeout=60)
    assert seen == {"a": (True, False), "b1": (True, True), "b2": (True, True)}
    billing.close()
    reader.dispose()
