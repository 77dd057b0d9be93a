"""Ledger throughput: submit+complete pairs per second, beside the backend's raw rate.

For SQLite (a temporary file, WAL, synchronous=FULL, BEGIN IMMEDIATE) and PostgreSQL (a fresh
database on 127.0.0.1:5432, dropped afterwards), with ``--threads`` (default 32) concurrent
submitters in ONE process:

* spread: each pair (``Billing.submit`` then ``Billing.complete``, each its own atomic unit of
  work with the wallet row locked) goes to one of ``--wallets`` (default 10,000) wallets;
* hot:    every pair goes to ONE team wallet.

Beside each, the raw rate of the same backend at the same concurrency, through the same
engine settings: one ``UPDATE balance`` + one ``INSERT entry`` per transaction, spread over the
same number of rows, or all on one hot row.  A pair is two ledger operations (each, without
group commit, its own database transaction), so the table also gives ledger operations per
second (2 x pairs) and their ratio to the raw rate.  ``--modes plain,group`` runs each
workload with one transaction per call and with :class:`GroupCommitStore` (one writer thread
batching up to ``--max-batch`` calls per transaction).

Usage: ``.venv/bin/python bench/ledger.py [--seconds 8] [--threads 32] [--wallets 10000]
[--backends sqlite,postgresql] [--workloads spread,hot] [--modes plain,group]
[--processes 2]``.  With ``--processes N`` the threads are split over N processes (each its
own engine; rates summed).  With ``--shards N`` (a power of two) each group-commit batch holds
units of one shard only (``GENCREDITS_SHARD_COUNT``).  Prints a Markdown table for
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchdb import fresh_database
from gencredits.billing import Billing
from gencredits.pricing import CatalogSet, parse_catalog
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

CATALOG = """
catalog: bench
version: "1"
title: bench
models:
  img:
    name: img
    modes: [text-to-image]
    price: {flat: 3}
"""


def hammer(threads: int, seconds: float, work: Callable[[random.Random, int], None]) -> float:
    """Run ``work(rng, n)`` in a loop on ``threads`` threads for ``seconds``; calls per second."""
    stop = threading.Event()
    counts = [0] * threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def loop(i: int) -> None:
        rng = random.Random(i)
        barrier.wait()
        n = 0
        try:
            while not stop.is_set():
                work(rng, i * 10_000_000 + n)
                n += 1
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        counts[i] = n

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def seed(billing: Billing, wallets: int, threads: int) -> float:
    """Create the wallets (and the hot team wallet) with plenty of credit; seconds taken."""
    ids = [f"u{i:05d}" for i in range(wallets)]
    started = time.perf_counter()
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not ids:
                    return
                wid = ids.pop()
            billing.create_wallet(wid)
            billing.grant(wid, 10**9, kind="purchase", idempotency_key="seed")

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    billing.create_wallet("team", owner_kind="team")
    billing.grant("team", 10**12, kind="purchase", idempotency_key="seed")
    return time.perf_counter() - started


def analyze(url: str) -> None:
    """Refresh the planner's statistics, as autovacuum does on a normal PostgreSQL server.

    The CI machine's PostgreSQL runs with ``autovacuum = off``: without this, tables that were
    empty when last analyzed keep plans for empty tables (sequential scans) while they grow."""
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    engine.dispose()


def pairs_rate(billing: Billing, wallets: int, hot: bool, args: argparse.Namespace) -> float:
    run = uuid.uuid4().hex[:6]

    def pair(rng: random.Random, n: int) -> None:
        wid = "team" if hot else f"u{rng.randrange(wallets):05d}"
        job = billing.submit(wid, "img", idempotency_key=f"{run}-{n}")
        billing.complete(job.id, idempotency_key=f"{run}-{n}-done")

    return hammer(args.threads, args.seconds, pair)


def _raw_tables() -> tuple[sa.MetaData, sa.Table, sa.Table]:
    meta = sa.MetaData()
    balance = sa.Table(
        "bench_raw_balance",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
    )
    entry = sa.Table(
        "bench_raw_entry",
        meta,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("account", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    return meta, balance, entry


def raw_setup(url: str, rows: int, *, drop_only: bool = False) -> None:
    engine = make_engine(url)
    meta, balance, _entry = _raw_tables()
    meta.drop_all(engine)
    if not drop_only:
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(balance.insert(), [{"id": i, "balance": 0} for i in range(rows)])
    engine.dispose()
    if not drop_only:
        analyze(url)


def raw_rate(url: str, rows: int, args: argparse.Namespace, *, create: bool = True) -> float:
    """One UPDATE + one INSERT per transaction, same engine settings and concurrency."""
    if create:
        raw_setup(url, rows)
    engine = make_engine(url)
    _meta, balance, entry = _raw_tables()
    update = (
        balance.update()
        .where(balance.c.id == sa.bindparam("row"))
        .values(balance=balance.c.balance + sa.bindparam("amount"))
    )
    insert = entry.insert()

    def tx(rng: random.Random, _n: int) -> None:
        row = rng.randrange(rows)
        with engine.begin() as conn:
            conn.execute(update, {"row": row, "amount": 1})
            conn.execute(insert, {"account": row, "amount": 1})

    try:
        return hammer(args.threads, args.seconds, tx)
    finally:
        engine.dispose()
        if create:
            raw_setup(url, rows, drop_only=True)


def _child(
    what: str, url: str, size: int, hot: bool, args: argparse.Namespace, barrier: Any, out: Any
) -> None:
    """One worker process of a ``--processes`` run: its share of the threads, its own engine."""
    barrier.wait()
    if what == "raw":
        out.put(raw_rate(url, size, args, create=False))
        return
    catalogs = CatalogSet([parse_catalog(CATALOG, "bench")])
    store: Any = SqlStore(make_engine(url))
    if what == "group":
        store = GroupCommitStore(
            store, max_batch=args.max_batch, writers=args.writers, shard_count=args.shards
        )
    billing = Billing(store, catalogs)
    out.put(pairs_rate(billing, size, hot, args))
    billing.close()


def in_processes(what: str, url: str, size: int, hot: bool, args: argparse.Namespace) -> float:
    """The summed rate of ``args.processes`` processes sharing ``args.threads`` threads."""
    ctx = multiprocessing.get_context("spawn")
    share = argparse.Namespace(**{**vars(args), "threads": args.threads // args.processes})
    barrier, out = ctx.Barrier(args.processes), ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(what, url, size, hot, share, barrier, out))
        for _ in range(args.processes)
    ]
    for proc in procs:
        proc.start()
    rates = [out.get(timeout=args.seconds * 10 + 120) for _ in procs]
    for proc in procs:
        proc.join()
    return float(sum(rates))


def bench_backend(name: str, url: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    catalogs = CatalogSet([parse_catalog(CATALOG, "bench")])
    engine = make_engine(url)
    upgrade(engine)
    plain = Billing(SqlStore(engine), catalogs)
    seeder = Billing(GroupCommitStore(SqlStore(make_engine(url))), catalogs)
    seconds = seed(seeder, args.wallets, args.threads)
    seeder.close()
    print(f"# {name}: seeded {args.wallets} wallets in {seconds:.1f} s", file=sys.stderr)
    if args.warmup > 0:  # some history in every table, then fresh statistics
        warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
        pairs_rate(plain, args.wallets, False, warm)
    analyze(url)
    rows = []
    for label, hot, raw_rows in (
        (f"spread over {args.wallets:,} wallets", False, args.wallets),
        ("one hot team wallet", True, 1),
    ):
        if ("hot" if hot else "spread") not in args.workloads.split(","):
            continue
        if args.processes > 1:
            raw_setup(url, raw_rows)
            raw = in_processes("raw", url, raw_rows, hot, args)
            raw_setup(url, raw_rows, drop_only=True)
        else:
            raw = raw_rate(url, raw_rows, args)
        for mode in args.modes.split(","):
            if args.processes > 1:
                pairs = in_processes(mode, url, args.wallets, hot, args)
                rows.append(
                    (
                        name,
                        label,
                        f"{mode}, {args.processes} processes",
                        f"{pairs:,.0f}",
                        f"{2 * pairs:,.0f}",
                        f"{raw:,.0f}",
                        f"{2 * pairs / raw:.2f}",
                        "",
                    )
                )
                print(
                    f"# {name} {label} {mode}: {pairs:.0f} pairs/s, raw {raw:.0f}", file=sys.stderr
                )
                continue
            if mode == "plain":
                billing = plain
            else:
                store = GroupCommitStore(
                    SqlStore(make_engine(url)),
                    max_batch=args.max_batch,
                    writers=args.writers,
                    shard_count=args.shards,
                )
                billing = Billing(store, catalogs)
            pairs = pairs_rate(billing, args.wallets, hot, args)
            note = ""
            if billing is not plain:
                note = f"{store.units / max(store.batches, 1):.1f} units per commit"
                billing.close()
            print(
                f"# {name} {label} {mode}: {pairs:.0f} pairs/s, raw {raw:.0f} tx/s {note}",
                file=sys.stderr,
            )
            rows.append(
                (
                    name,
                    label,
                    "group commit" if mode != "plain" else "one tx per call",
                    f"{pairs:,.0f}",
                    f"{2 * pairs:,.0f}",
                    f"{raw:,.0f}",
                    f"{2 * pairs / raw:.2f}",
                    note,
                )
            )
    violations = plain.audit()
    assert violations == [], violations[:5]
    plain.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--modes", default="plain,group", help="plain and/or group (commit)")
    parser.add_argument("--workloads", default="spread,hot", help="spread and/or hot")
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--writers", type=int, default=1, help="group-commit writer threads")
    parser.add_argument(
        "--shards", type=int, default=0, help="group-commit batches of one shard only (0: off)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of pairs before measuring, then ANALYZE"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="split the threads over this many processes"
    )
    args = parser.parse_args()
    rows: list[tuple[str, ...]] = []
    for backend in args.backends.split(","):
        if backend not in ("sqlite", "postgresql"):
            parser.error(f"unknown backend {backend!r}")
        with (
            tempfile.TemporaryDirectory() as folder,
            fresh_database(backend, Path(folder), "bench") as url,
        ):
            rows += bench_backend("SQLite" if backend == "sqlite" else "PostgreSQL", url, args)
    print(
        f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.threads} threads over {args.processes} process(es), {args.seconds:g} s per figure\n"
    )
    print(
        "| backend | workload | mode | submit+complete pairs/s | ledger ops/s "
        "| raw UPDATE+INSERT tx/s | ops / raw | note |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
