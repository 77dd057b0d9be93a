"""A wallet's cost against its number of grants (issue 18), in-process through ``Billing``.

For each backend and each size N (1, 100, 1,000 and 10,000 active grants), one wallet holds
one large ``allowance`` grant (spent first: it covers every submission) and N - 1 one-credit
``purchase`` grants with mixed expiries, so a submission takes from the same one grant
whatever N is, as in the issue's measurement (a wallet of thousands of small grants).  Then,
interleaved: ``submit`` + ``complete`` pairs, and ``get_wallet`` reads (its JSON size too).

Goal: at 10,000 grants, each costs at most twice what it costs at 1 grant.

Run: ``.venv/bin/python bench/grants.py [--pairs 300] [--sizes 1 100 1000 10000]
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


def measure(billing: Billing, wallet: str, pairs: int) -> dict[str, float]:
    pair_s: list[float] = []
    read_s: list[float] = []
    for i in range(pairs):

        def pair(i: int = i) -> None:
            job = billing.submit(wallet, MODEL, catalog=CATALOG, idempotency_key=f"s{i}")
            billing.complete(job.id, idempotency_key=f"c{i}")

        pair_s.append(timed(pair))
        read_s.append(timed(lambda: billing.get_wallet(wallet)))
    size = len(json.dumps(billing.get_wallet(wallet).to_dict()))
    return {
        "pair_ms": 1000 * statistics.median(pair_s),
        "read_ms": 1000 * statistics.median(read_s),
        "bytes": size,
    }


def run_backend(backend: str, sizes: list[int], pairs: int) -> list[dict[str, object]]:
    drop: Callable[[], None] | None = None
    if backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='gc-grants-')}/bench.db"
    else:
        url, drop = postgres_database()
    rows: list[dict[str, object]] = []
    try:
        billing = Billing.from_url(url)
        store = billing.store
        for n in sizes:
            wallet = f"grants-{n}"
            started = time.perf_counter()
            fill(store, billing, wallet, n)
            filled = time.perf_counter() - started
            result = measure(billing, wallet, pairs)
            live = sum(line.grants for line in billing.get_wallet(wallet).grant_totals)
            assert live == n, (live, n)
            rows.append({"backend": backend, "grants": n, "fill_s": filled, **result})
            print(
                f"{backend:10} {n:>6} grants: submit+complete p50 {result['pair_ms']:.2f} ms, "
                f"get_wallet p50 {result['read_ms']:.3f} ms ({result['bytes']} bytes)"
                f"  [setup {filled:.1f} s]",
                flush=True,
            )
        billing.close()
    finally:
        if drop is not None:
            drop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000, 10000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    print(f"{platform.machine()} {platform.python_version()}, pairs {args.pairs}", flush=True)
    for backend in args.backends:
        rows = run_backend(backend, args.sizes, args.pairs)
        base = rows[0]
        for row in rows[1:]:
            print(
                f"{backend:10} {row['grants']:>6} / {base['grants']}: submit+complete "
                f"{float(row['pair_ms']) / float(base['pair_ms']):.2f}x, get_wallet "
                f"{float(row['read_ms']) / float(base['read_ms']):.2f}x"
            )


if __name__ == "__main__":
    main()
