"""PostgreSQL write-ahead log per operation: bytes of WAL per submit and per complete.

Creates a throw-away database on a local PostgreSQL, migrates it to ``--revision`` (to
compare a schema before and after a migration), seeds wallets, runs ``--pairs`` warm-up
submit+complete pairs on single wallets (the tables have some history), then ``--pairs``
measured pairs, one at a time (no group commit, so each call is its own transaction), and
reads ``pg_current_wal_lsn()`` before and after.  Nothing else should write to the server
meanwhile (the figure is the server's whole WAL).

Usage: ``.venv/bin/python bench/wal_per_op.py [--revision head] [--pairs 2000]
[--url postgresql+psycopg://postgres@127.0.0.1/postgres]``.
"""

from __future__ import annotations

import argparse
import uuid

import sqlalchemy as sa

import ledger as bench
from gencredits.billing import Billing
from gencredits.pricing import CatalogSet, parse_catalog
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

WALLETS = 50
CHUNK = 100


def _lsn(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.text("SELECT pg_current_wal_lsn() - '0/0'")).scalar_one())


def _own_wal(engine: sa.Engine, start: int, end: int) -> tuple[int, int]:
    """(record bytes, full-page-image bytes) of this database's blocks from start to end."""
    q = sa.text(
        "SELECT coalesce(sum(record_length - fpi_length), 0), coalesce(sum(fpi_length), 0) "
        "FROM pg_get_wal_records_info(:start ::pg_lsn, :end ::pg_lsn) "
        "WHERE block_ref LIKE '%/' || (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) || '/%'"
    )
    with engine.connect() as c:
        row = c.execute(q, {"start": _text(start), "end": _text(end)}).one()
    return int(row[0]), int(row[1])


def _text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _pairs(billing: Billing, run: str, count: int) -> None:
    for n in range(count):
        wid = f"u{n % WALLETS:05d}"
        job = billing.submit(wid, "img", idempotency_key=f"{run}-{n}")
        billing.complete(job.id, idempotency_key=f"{run}-{n}-done")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revision", default="head", metavar="REVISION")
    parser.add_argument("--pairs", type=int, default=2000, metavar="N")
    parser.add_argument(
        "--url", default="postgresql+psycopg://postgres@127.0.0.1/postgres", metavar="URL"
    )
    args = parser.parse_args()
    admin = sa.create_engine(args.url, isolation_level="AUTOCOMMIT")
    name = f"walbench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(args.url).set(database=name)
    try:
        upgrade(url.render_as_string(hide_password=False), args.revision)
        engine = make_engine(url.render_as_string(hide_password=False))
        with engine.begin() as c:
            c.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_walinspect"))
        billing = Billing(SqlStore(engine), CatalogSet([parse_catalog(bench.CATALOG, "bench")]))
        for i in range(WALLETS):
            billing.create_wallet(f"u{i:05d}")
            billing.grant(f"u{i:05d}", 10**9, kind="purchase", idempotency_key="seed")
        _pairs(billing, "warm", args.pairs)
        # A temporary slot keeps the server from recycling the WAL before it is read.
        keep = engine.connect()
        keep.execute(
            sa.text("SELECT pg_create_physical_replication_slot(:name, true, true)"),
            {"name": name},
        )
        records = images = server = 0
        for chunk in range(0, args.pairs, CHUNK):  # read the WAL before the server recycles it
            before = _lsn(engine)
            _pairs(billing, f"run{chunk}", min(CHUNK, args.pairs - chunk))
            after = _lsn(engine)
            more_records, more_images = _own_wal(engine, before, after)
            records, images, server = (
                records + more_records,
                images + more_images,
                server + after - before,
            )
        keep.close()  # drops the temporary slot
        billing.close()
        engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    per_op = 2 * args.pairs
    print(
        f"revision {args.revision}: {records / per_op:,.0f} bytes of WAL records per operation "
        f"(+ {images / per_op:,.0f} of full-page images; server-wide {server / per_op:,.0f}"
        f"), {args.pairs} submit+complete pairs"
    )


if __name__ == "__main__":
    main()
