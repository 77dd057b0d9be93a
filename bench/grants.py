"""A wallet's cost against its number of grants (issue 18), in-process through ``Billing``.

For each backend and each size N (1, 100, 1,000 and 10,000 active grants), one wallet holds
one large ``allowance`` grant (spent first: it covers every submission) and N - 1 one-credit
``purchase`` grants with mixed expiries, so a submission takes from the same one grant
whatever N is, as in the issue's measurement (a wallet of thousands of small grants).  Then,
in rounds that take the sizes in turn (so load from anything else on the machine falls on
every size alike): ``submit`` + ``complete`` pairs, and ``get_wallet`` reads (and the size of
the wallet's JSON answer).

Goal: at 10,000 grants, each costs at most twice what it costs at 1 grant.

Run: ``.venv/bin/python bench/grants.py [--rounds 6] [--pairs 50] [--sizes 1 100 1000 10000]
[--backends sqlite postgres]``.  Loopback PostgreSQL only (a database made and dropped).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gencredits.billing import Billing
from gencredits.billing import grants as grant_rules
from gencredits.billing.inputs import GrantCredits
from gencredits.ledger.model import DEFAULT_KIND_PRIORITIES
from gencredits.ledger.store import LedgerStore
from reads import postgres_database

MODEL, CATALOG = "veo3_fast", "api-pricing"


def fill(store: LedgerStore, billing: Billing, wallet: str, n: int) -> None:
    """The wallet and its n grants, written through the service's own grant rule in a few
    large units (10,000 separate calls would only slow the setup)."""
    billing.create_wallet(wallet, idempotency_key=f"{wallet}-made")
    billing.grant(wallet, 10**12, kind="allowance", idempotency_key=f"{wallet}-big")
    now = billing.clock.now()
    expiries = (None, timedelta(days=30), timedelta(days=90), timedelta(days=365))
    for start in range(1, n, 2000):

        def unit(uow: object, start: int = start) -> None:
            for i in range(start, min(n, start + 2000)):
                wallet_now = uow.lock_wallet(wallet)  # type: ignore[attr-defined]
                expiry = expiries[i % len(expiries)]
                asked = GrantCredits(
                    wallet,
                    1,
                    "purchase",
                    DEFAULT_KIND_PRIORITIES,
                    None,
                    None if expiry is None else now + expiry,
                    None,
                    f"bench:{i}",
                )
                grant_rules.issue(uow, wallet_now, asked, f"{wallet}-g{i}", now)  # type: ignore[arg-type]

        store.run_unit(unit, hints=_hints(wallet))


def _hints(wallet: str) -> object:
    from gencredits.ledger.store import UnitHints

    return UnitHints(wallet_id=wallet)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(billing: Billing, wallet: str, pairs: int, tag: str) -> tuple[list[float], list[float]]:
    """``pairs`` submit+complete pairs and as many wallet reads: (pair seconds, read seconds)."""
    pair_s: list[float] = []
    read_s: list[float] = []
    for i in range(pairs):

        def pair(i: int = i) -> None:
            job = billing.submit(wallet, MODEL, catalog=CATALOG, idempotency_key=f"{tag}s{i}")
            billing.complete(job.id, idempotency_key=f"{tag}c{i}")

        pair_s.append(timed(pair))
        read_s.append(timed(lambda: billing.get_wallet(wallet)))
    return pair_s, read_s


def run_backend(
    backend: str, sizes: list[int], pairs: int, rounds: int
) -> list[dict[str, float | int | str]]:
    """Fill one wallet per size, then measure them in turns, ``rounds`` times, so that load
    from anything else on the machine falls on every size alike; each size pools its rounds."""
    drop: Callable[[], None] | None = None
    if backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='gc-grants-')}/bench.db"
    else:
        url, drop = postgres_database()
    try:
        billing = Billing.from_url(url)
        for n in sizes:
            started = time.perf_counter()
            fill(billing.store, billing, f"grants-{n}", n)
            live = sum(line.grants for line in billing.get_wallet(f"grants-{n}").grant_totals)
            assert live == n, (live, n)
            print(
                f"{backend}: {n} grants made in {time.perf_counter() - started:.1f} s", flush=True
            )
        pooled: dict[int, tuple[list[float], list[float]]] = {n: ([], []) for n in sizes}
        for r in range(rounds):
            for n in sizes if r % 2 == 0 else reversed(sizes):
                pair_s, read_s = measure(billing, f"grants-{n}", pairs, f"r{r}")
                pooled[n][0].extend(pair_s)
                pooled[n][1].extend(read_s)
        rows: list[dict[str, float | int | str]] = []
        for n in sizes:
            size = len(json.dumps(billing.get_wallet(f"grants-{n}").to_dict()))
            pair_ms = 1000 * statistics.median(pooled[n][0])
            read_ms = 1000 * statistics.median(pooled[n][1])
            rows.append(
                {
                    "backend": backend,
                    "grants": n,
                    "pair_ms": pair_ms,
                    "read_ms": read_ms,
                    "bytes": size,
                }
            )
        problems = {v.code for v in billing.audit()}
        assert problems <= {"effect_without_key_record"}, problems  # the fill records no keys
        billing.close()
    finally:
        if drop is not None:
            drop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50, help="pairs per size per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000, 10000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    print(
        f"{platform.machine()} {platform.python_version()}, {args.rounds} rounds of "
        f"{args.pairs} pairs and reads per size",
        flush=True,
    )
    print("| backend | grants | submit+complete p50 ms | vs 1 | get_wallet p50 ms | vs 1 | bytes |")
    for backend in args.backends:
        rows = run_backend(backend, args.sizes, args.pairs, args.rounds)
        base = rows[0]
        for row in rows:
            pair_x = float(row["pair_ms"]) / float(base["pair_ms"])
            read_x = float(row["read_ms"]) / float(base["read_ms"])
            print(
                f"| {backend} | {row['grants']:,} | {float(row['pair_ms']):.2f} | {pair_x:.2f}x "
                f"| {float(row['read_ms']):.3f} | {read_x:.2f}x | {row['bytes']:,} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
