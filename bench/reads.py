"""Wallet reads under a write load, in-process: snapshot reads against the old read-committed
reads, A/B in one process, interleaved in rounds (issue 17).

``--threads`` writer threads run submit + complete/fail pairs on ten wallets through
``Billing`` while one reader thread calls ``get_wallet`` on them in a loop.  Each round runs
once with the readers as shipped (PostgreSQL: ``REPEATABLE READ READ ONLY``) and once with
the reader's connection left at read committed (the code before issue 17), in alternating
order, so that load from anything else on the machine falls on both alike; each mode pools
its rounds.  On SQLite both modes run the same code (a deferred ``BEGIN``): their difference
is the run's noise.

Run: ``.venv/bin/python bench/reads.py [--seconds 20] [--rounds 5] [--threads 8]
[--backends sqlite postgres]``.  Loopback PostgreSQL only; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Connection

from benchdb import fresh_database
from gencredits.billing import Billing
from gencredits.storage.sql import engine as db
from gencredits.storage.sql import store as sql_store

SECONDS_MAX = 120
WALLETS = [f"reads-{i}" for i in range(10)]


def read_committed(conn: Connection) -> Connection:
    """The reader before issue 17: read-only on SQLite, default isolation on PostgreSQL."""
    return conn.execution_options(**{db.READONLY_OPTION: True})


@contextmanager
def reads_as(mode: str) -> Iterator[None]:
    shipped = sql_store.read_only
    sql_store.read_only = shipped if mode == "snapshot" else read_committed  # type: ignore[assignment]
    try:
        yield
    finally:
        sql_store.read_only = shipped  # type: ignore[assignment]


def pct_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def one_round(billing: Billing, threads: int, seconds: float) -> tuple[list[float], int]:
    """(read latencies, writer pairs) of ``seconds`` of load."""
    stop_at = time.perf_counter() + seconds
    pairs = [0] * threads
    latencies: list[float] = []

    def writer(t: int) -> None:
        n = t
        while time.perf_counter() < stop_at:
            wallet = WALLETS[n % len(WALLETS)]
            job = billing.submit(
                wallet, "veo3_fast", catalog="api-pricing", idempotency_key=uuid.uuid4().hex
            )
            settle = billing.complete if n % 2 == 0 else billing.fail
            settle(job.id, idempotency_key=uuid.uuid4().hex)
            pairs[t] += 1
            n += threads

    def reader() -> None:
        n = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            billing.get_wallet(WALLETS[n % len(WALLETS)])
            latencies.append(time.perf_counter() - started)
            n += 1

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    workers.append(threading.Thread(target=reader))
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies, sum(pairs)


def bench(backend: str, args: argparse.Namespace, work: Path) -> list[str]:
    with fresh_database(backend, work, "reads") as url:
        billing = Billing.from_url(url, group_commit=True)
        for w in WALLETS:
            billing.create_wallet(w)
            billing.grant(w, 10**12, kind="purchase", idempotency_key=w)
        one_round(billing, args.threads, 1.0)  # warm-up
        seconds = args.seconds / args.rounds / 2
        found: dict[str, tuple[list[float], int]] = {"read committed": ([], 0), "snapshot": ([], 0)}
        for i in range(args.rounds):  # ABBA...: neither mode always runs first
            for mode in ("read committed", "snapshot")[:: 1 if i % 2 == 0 else -1]:
                with reads_as(mode):
                    latencies, pairs = one_round(billing, args.threads, seconds)
                found[mode] = (found[mode][0] + latencies, found[mode][1] + pairs)
        billing.close()
    total = seconds * args.rounds
    lines = []
    for mode, (latencies, pairs) in found.items():
        lines.append(
            f"| {backend} | {mode} | {len(latencies) / total:,.0f} | {pct_ms(latencies, 0.5):.2f} "
            f"| {pct_ms(latencies, 0.99):.2f} | {pairs / total:,.0f} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per backend, both modes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8, help="writer threads")
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgres"])
    args = parser.parse_args()
    args.seconds = min(max(args.seconds, 2.0), SECONDS_MAX)
    args.rounds = max(1, args.rounds)
    print(
        f"# {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.threads} writer threads + 1 reader, group commit, {args.seconds:g} s per "
        f"backend in {args.rounds} rounds of both modes",
        flush=True,
    )
    print("| backend | reads | reads/s | read p50 ms | read p99 ms | writer pairs/s |")
    print("|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="gencredits-bench-") as tmp:
        for backend in args.backends:
            bench(backend, args, Path(tmp))


if __name__ == "__main__":
    main()
