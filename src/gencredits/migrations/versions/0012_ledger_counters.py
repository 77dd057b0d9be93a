"""Ledger counters: the /metrics gauges kept in the ledger's transactions, filled from the
jobs already there.

Revision ID: 0012_ledger_counters
Revises: 0011_catalog_versions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_ledger_counters"
down_revision = "0011_catalog_versions"

BUCKETS = 32
NAMES = ("holds_open", "credits_held", "credits_captured", "credits_refunded")
TOTALS = """
SELECT
  COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(credits_held), 0),
  COALESCE(SUM(credits_used), 0),
  COALESCE(SUM(CASE WHEN state IN ('failed', 'cancelled', 'timed_out')
                    THEN hold_amount ELSE 0 END), 0)
FROM ledger_jobs
"""


def upgrade() -> None:
    table = op.create_table(
        "ledger_counters",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    totals = op.get_bind().execute(sa.text(TOTALS)).one()
    op.bulk_insert(
        table,
        [
            {"name": name, "bucket": bucket, "value": int(total) if bucket == 0 else 0}
            for name, total in zip(NAMES, totals, strict=True)
            for bucket in range(BUCKETS)
        ],
    )


def downgrade() -> None:
    op.drop_table("ledger_counters")
