"""PostgreSQL bytes per job row: the stored quote and the whole row, on a populated table.

Creates a throw-away database on a local PostgreSQL, migrated to head, 20 wallets, and
submits ``--jobs`` jobs (no group commit) spread over every model of the bundled catalogs
that prices with its default settings, one to four generations; then reads
``avg(pg_column_size(quote))``, ``avg(pg_column_size(ledger_jobs.*))``, the table's
size on disk per row (heap, TOAST and indexes: ``pg_total_relation_size``) and the outbox's
bytes per event, and drops the database.  Run it on two checkouts
(``PYTHONPATH=<checkout>/src``) to compare them.

Usage: ``.venv/bin/python bench/job_row_bytes.py [--jobs 5000]`` (the database comes from
:func:`benchdb.fresh_database`, as in the other scripts).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import sqlalchemy as sa

from benchdb import fresh_database
from gencredits.billing import Billing
from gencredits.pricing import CatalogSet, quote
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

WALLETS = 20


def _priced(catalogs: CatalogSet) -> list[tuple[str, str]]:
    """(catalog, model) of every bundled model that prices with its default settings."""
    found = []
    for name in catalogs:
        for model in catalogs[name].models:
            try:
                quote(catalogs[name], model, {}, 1)
            except Exception:  # a model that needs a setting
                continue
            found.append((name, model))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000, metavar="N")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as work,
        fresh_database("postgresql", Path(work), "j") as url,
    ):
        _measure(url, args.jobs)


def _measure(url: str, jobs: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    catalogs = CatalogSet.bundled()
    billing = Billing(SqlStore(engine), catalogs)
    models = _priced(catalogs)
    for i in range(WALLETS):
        billing.create_wallet(f"u{i:03d}")
        billing.grant(f"u{i:03d}", 10**12, kind="purchase", idempotency_key="seed")
    for n in range(jobs):
        catalog, model = models[n % len(models)]
        billing.submit(
            f"u{n % WALLETS:03d}",
            model,
            generations=1 + n % 4 if n % 3 else 1,
            catalog=catalog,
            idempotency_key=f"j{n}",
        )
    with engine.begin() as c:
        row = c.execute(
            sa.text(
                "SELECT count(*), avg(pg_column_size(quote)), avg(octet_length(quote::text)),"
                " avg(pg_column_size(j.*)), pg_total_relation_size('ledger_jobs')"
                " FROM ledger_jobs j"
            )
        ).one()
        event = c.execute(
            sa.text("SELECT avg(pg_column_size(o.*)) FROM ledger_outbox o")
        ).scalar_one()
    billing.close()
    count, quote_size, quote_text, row_size, total = row
    print(f"models: {len(models)}, jobs: {count}")
    print(f"quote: {quote_size:.0f} bytes (pg_column_size), {quote_text:.0f} text")
    print(f"row: {row_size:.0f} bytes (pg_column_size of the row)")
    print(f"table with TOAST and indexes: {total / count:.0f} bytes per job")
    print(f"outbox: {event:.0f} bytes per event (pg_column_size of the row)")


if __name__ == "__main__":
    main()
