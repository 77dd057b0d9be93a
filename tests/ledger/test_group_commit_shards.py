"""Group commit by shard: with a shard count, every batch holds units of one shard only, the
oldest waiting unit starts the next batch, and a unit placed nowhere runs alone."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tests.ledger.test_group_commit import _one_batch

from gencredits.billing import Billing
from gencredits.billing.ids import digest, job_id_for
from gencredits.ledger.store import UnitHints
from gencredits.pricing import CatalogSet
from gencredits.shards import bucket_of, shard_of
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

SHARDS = 4


def _shard(wallet: str) -> int:
    return shard_of(bucket_of(wallet), SHARDS)


def _wallets(per_shard: int) -> dict[int, list[str]]:
    """``per_shard`` wallet ids in each of the four shards."""
    found: dict[int, list[str]] = {s: [] for s in range(SHARDS)}
    i = 0
    while min(len(w) for w in found.values()) < per_shard:
        name = f"w{i}"
        if len(found[_shard(name)]) < per_shard:
            found[_shard(name)].append(name)
        i += 1
    return found


class Recorded:
    """The hints of each committed batch's units, in commit order."""

    def __init__(self) -> None:
        self.batches: list[list[UnitHints]] = []
        self.lock = threading.Lock()

    def __call__(self, hints: Sequence[UnitHints]) -> None:
        with self.lock:
            self.batches.append(list(hints))

    def shards(self) -> list[set[int | None]]:
        return [
            {None if h.bucket is None else shard_of(h.bucket, SHARDS) for h in batch}
            for batch in self.batches
        ]


def _service(
    place: Path | str,
    catalogs: CatalogSet,
    clock: Any,
    shard_count: int,
    wallets: list[str],
    writers: int = 1,
) -> tuple[GroupCommitStore, Billing, Recorded]:
    """A group-commit service on a SQLite file in the folder ``place`` or on the database
    URL ``place``, with ``wallets`` funded; ``recorded`` starts empty."""
    engine = make_engine(place if isinstance(place, str) else f"sqlite:///{place}/gc.db")
    upgrade(engine)
    recorded = Recorded()
    store = GroupCommitStore(
        SqlStore(engine), shard_count=shard_count, writers=writers, on_commit=recorded
    )
    billing = Billing(store, catalogs, clock)
    for w in wallets:
        billing.create_wallet(w)
        billing.grant(w, 100_000, kind="purchase", idempotency_key="g")
    recorded.batches.clear()
    return store, billing, recorded


def _mixed_calls(billing: Billing, store: GroupCommitStore, wallets: dict[int, list[str]]) -> Any:
    a, b, c = wallets[0][0], wallets[1][0], wallets[2][0]
    first = billing.submit(a, "img", idempotency_key="first")
    calls = [
        partial(billing.submit, a, "img", idempotency_key="1"),
        partial(billing.submit, b, "img", idempotency_key="2"),
        partial(billing.complete, first.id, idempotency_key="3"),  # placed by its job id
        partial(billing.submit, c, "img", idempotency_key="4"),
        partial(billing.grant, b, 5, kind="promotional", idempotency_key="5"),
        partial(store.run_unit, lambda uow: uow.get_wallet(a), UnitHints()),  # placed nowhere
        partial(billing.submit, wallets[0][1], "img", idempotency_key="7"),
    ]
    return _one_batch(billing, store, calls)


def test_a_batch_takes_the_oldest_unit_then_only_its_shard_and_the_rest_keep_their_order(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    wallets = _wallets(2)
    store, billing, recorded = _service(
        tmp_path, ledger_catalogs, clock, SHARDS, [w for ws in wallets.values() for w in ws]
    )
    results = _mixed_calls(billing, store, wallets)
    assert results[2].outcome == "captured" and results[5] is not None
    keys = [[h.idempotency[1] if h.idempotency else None for h in b] for b in recorded.batches]
    assert keys[0] == ["first"]
    # the plug (shard of "plug"), then: the oldest waiting unit and the rest of its shard
    assert keys[2:] == [["1", "3", "7"], ["2", "5"], ["4"], [None]]
    assert recorded.shards()[2:] == [{0}, {1}, {2}, {None}]
    assert billing.audit() == []
    billing.close()


def test_without_a_shard_count_a_batch_mixes_every_shard(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any
) -> None:
    wallets = _wallets(2)
    store, billing, recorded = _service(
        tmp_path, ledger_catalogs, clock, 0, [w for ws in wallets.values() for w in ws]
    )
    _mixed_calls(billing, store, wallets)
    assert [len(b) for b in recorded.batches] == [1, 1, 7]  # first, plug, all seven at once
    assert recorded.shards()[2] == {0, 1, 2, None}
    assert billing.audit() == []
    billing.close()


@pytest.mark.parametrize(
    ("backend", "writers"), [("sqlite", 1), ("sqlite", 2), ("postgresql", 1), ("postgresql", 2)]
)
def test_many_callers_over_four_shards_batch_one_shard_at_a_time_each_unit_once(
    tmp_path: Path,
    ledger_catalogs: CatalogSet,
    clock: Any,
    backend: str,
    writers: int,
    request: pytest.FixtureRequest,
) -> None:
    """Two writers: each keeps its own waiting units, and the checks still hold."""
    wallets = _wallets(3)
    every = [w for ws in wallets.values() for w in ws]
    place = tmp_path if backend == "sqlite" else request.getfixturevalue("postgres_url")
    store, billing, recorded = _service(
        place, ledger_catalogs, clock, SHARDS, every, writers=writers
    )
    errors: list[BaseException] = []
    made: list[str] = []

    def work(i: int) -> None:
        rng = random.Random(i)
        try:
            for k in range(12):
                w = rng.choice(every)
                job = billing.submit(w, "img", idempotency_key=f"{i}-{k}")
                billing.complete(job.id, idempotency_key=f"{i}-{k}-done")
                made.extend((f"{i}-{k}", f"{i}-{k}-done"))
                if k % 4 == 0:
                    store.run_unit(lambda uow, w=w: uow.get_wallet(w), UnitHints())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    shards = recorded.shards()
    assert all(len(s) == 1 for s in shards)
    assert all(len(b) == 1 for b, s in zip(recorded.batches, shards, strict=True) if s == {None})
    ran = Counter(h.idempotency[1] for b in recorded.batches for h in b if h.idempotency)
    assert ran == Counter(made)  # every keyed unit once, none twice
    assert sum(1 for s in shards if s == {None}) == 16 * 3
    assert max(len(b) for b in recorded.batches) > 1  # still batching
    assert sum(billing.get_wallet(w).available for w in every) == len(every) * 100_000 - 16 * 120
    assert billing.audit() == []
    billing.close()


def test_a_job_made_before_ids_carried_a_bucket_runs_alone_and_still_works(
    tmp_path: Path, ledger_catalogs: CatalogSet, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs and grants stored by an earlier version (ids without a bucket) are completed,
    failed, cancelled and voided as before; their units run in batches of their own."""
    wallets = _wallets(1)
    _, billing, recorded = _service(tmp_path, ledger_catalogs, clock, SHARDS, wallets[0])
    w = wallets[0][0]
    import gencredits.billing.grants as grants
    import gencredits.billing.service as service

    monkeypatch.setattr(
        service, "job_id_for", lambda at, wallet, key: "job_" + digest("job", wallet, key)
    )
    monkeypatch.setattr(grants, "grant_id_for", lambda wallet, key: "gr_" + digest("g", key))
    old = [billing.submit(w, "img", idempotency_key=f"old{i}") for i in range(3)]
    grant = billing.grant(w, 50, kind="promotional", idempotency_key="old-grant")
    monkeypatch.undo()
    assert [len(j.id) for j in old] == [28, 28, 28] and len(grant.id) == 27
    assert job_id_for(clock.now(), w, "new") != "job_" + digest("job", w, "new")
    recorded.batches.clear()
    done = billing.complete(old[0].id, idempotency_key="c")
    failed = billing.fail(old[1].id, reason="provider error", idempotency_key="f")
    cancelled = billing.cancel(old[2].id, idempotency_key="x")
    voided = billing.void_grant(grant.id, idempotency_key="v")
    assert (done.state, failed.state, cancelled.state) == ("succeeded", "failed", "cancelled")
    assert voided.state == "voided"
    assert billing.get_job(old[0].id).state == "succeeded"
    assert recorded.shards() == [{None}] * 4  # each alone: nothing to place it by
    assert billing.audit() == []
    billing.close()
