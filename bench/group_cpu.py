"""CPU time per submit+complete pair through group commit on SQLite, with or without batches
of one shard (``--shards``): an A/B that a shared machine's load disturbs far less than rates.

Usage: ``.venv/bin/python bench/group_cpu.py [--shards 4] [--wallets 2000] [--threads 16]
[--pairs 250]`` (pairs per thread).  Prints the process's CPU milliseconds (user + system,
every thread) per pair, the wall rate and the units per commit.  With ``--shards 0`` it only
uses what earlier trees also have, so the same file measures a tree before a change
(``PYTHONPATH=<that tree>/src``).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import threading
import time
from typing import Any

from gencredits.billing import Billing
from gencredits.pricing import CatalogSet, parse_catalog
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore
from ledger import CATALOG, seed


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=0, help="0: batches mix every wallet")
    parser.add_argument("--wallets", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=250, help="pairs per thread")
    args = parser.parse_args()
    catalogs = CatalogSet([parse_catalog(CATALOG, "bench")])
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/b.db")
        upgrade(engine)
        options: dict[str, Any] = {"shard_count": args.shards} if args.shards else {}
        store = GroupCommitStore(SqlStore(engine), **options)
        billing = Billing(store, catalogs)
        seed(billing, args.wallets, args.threads)

        def work(i: int) -> None:
            rng = random.Random(i)
            for k in range(args.pairs):
                wallet = f"u{rng.randrange(args.wallets):05d}"
                job = billing.submit(wallet, "img", idempotency_key=f"{i}-{k}")
                billing.complete(job.id, idempotency_key=f"{i}-{k}-done")

        batches, units = store.batches, store.units
        cpu, wall = _cpu_s(), time.monotonic()
        threads = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu, wall = _cpu_s() - cpu, time.monotonic() - wall
        pairs = args.threads * args.pairs
        per_commit = (store.units - units) / max(store.batches - batches, 1)
        print(
            f"shards {args.shards}: {1000 * cpu / pairs:.3f} CPU ms per pair, "
            f"{pairs / wall:,.0f} pairs/s, {per_commit:.1f} units per commit"
        )
        billing.close()


if __name__ == "__main__":
    main()
