"""SQLite pages written per group commit: job ids that sort by time against ids from a hash.

Runs the hot-wallet workload of ``bench/ledger.py`` (32 threads, submit+complete pairs on one
team wallet, group commit) on a temporary SQLite file with WAL auto-checkpoints off, and
counts the WAL frames (one per page written) per committed batch.  ``--ids hash`` swaps in
the former job id, ``job_`` + sha256(wallet, key)[:24], to show what time-ordered ids save.

Usage: ``.venv/bin/python bench/wal_pages.py [--ids time|hash] [--seconds 4]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import gencredits.billing.service as service
import ledger as bench
from gencredits.billing import Billing
from gencredits.billing.ids import digest
from gencredits.pricing import CatalogSet, parse_catalog
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

WAL_FRAME = 4096 + 24  # default page size plus the frame header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", choices=["time", "hash"], default="time")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    if args.ids == "hash":
        service.job_id_for = lambda _at, wallet, key: "job_" + digest("job", wallet, key)
    catalogs = CatalogSet([parse_catalog(bench.CATALOG, "bench")])
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/b.db"
        upgrade(url)
        engine = make_engine(url)

        @sa.event.listens_for(engine, "connect")
        def _no_checkpoints(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        store = GroupCommitStore(SqlStore(engine))
        billing = Billing(store, catalogs)
        bench.seed(billing, 200, args.threads)
        warm = argparse.Namespace(threads=args.threads, seconds=2.0)
        bench.pairs_rate(billing, 200, True, warm)  # the tables have some history
        wal = Path(f"{folder}/b.db-wal")
        size, batches, units = wal.stat().st_size, store.batches, store.units
        run = argparse.Namespace(threads=args.threads, seconds=args.seconds)
        bench.pairs_rate(billing, 200, True, run)
        frames = (wal.stat().st_size - size) / WAL_FRAME
        batches, units = store.batches - batches, store.units - units
        billing.close()
    print(
        f"{args.ids} ids: {frames / batches:.1f} pages written per commit, "
        f"{units / batches:.1f} calls per commit, {frames / units:.2f} pages per call "
        f"({os.cpu_count()} cores, {args.threads} threads, {args.seconds:g} s)"
    )


if __name__ == "__main__":
    main()
