"""Report rollups, kept in the ledger's transactions: usage per day and key (with and
without wallet and member), per month and key, and flows (credits expired, credits sold with
the money paid).

Revision ID: 0010_usage_rollups
Revises: 0009_grant_expiry_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_usage_rollups"
down_revision = "0009_grant_expiry_index"


#: The usage counters, one whole-number column each, in the order the tables have them.
USAGE_COUNTERS = (
    "jobs",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
    "late_succeeded",
    "held",
    "captured",
    "refunded",
    "written_off",
    "cost_micros",
    "uncosted",
)


def _usage_table(name: str, *, per_wallet: bool) -> None:
    """A usage rollup: its key (day, [wallet, member,] model, mode, route, currency), then
    the counters.  Written out here, not taken from the current schema (this revision must
    create the same tables forever)."""
    wallet = [
        sa.Column("wallet_id", sa.String(200), primary_key=True),
        sa.Column("member", sa.String(200), primary_key=True),
    ]
    op.create_table(
        name,
        sa.Column("day", sa.String(10), primary_key=True),  # report_usage_month: the 1st
        *(wallet if per_wallet else []),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("mode", sa.String(40), primary_key=True),
        sa.Column("route", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(8), primary_key=True),
        *(sa.Column(counter, sa.BigInteger, nullable=False) for counter in USAGE_COUNTERS),
    )


def upgrade() -> None:
    _usage_table("report_usage", per_wallet=True)
    op.create_index("ix_report_usage_wallet", "report_usage", ["wallet_id", "day"])
    _usage_table("report_usage_month", per_wallet=True)
    op.create_index("ix_report_usage_month_wallet", "report_usage_month", ["wallet_id", "day"])
    _usage_table("report_usage_total", per_wallet=False)
    op.create_table(
        "report_flows",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("wallet_id", sa.String(200), primary_key=True),
        sa.Column("flow", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("currency", sa.String(8), primary_key=True),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("bonus", sa.BigInteger, nullable=False),
        sa.Column("items", sa.BigInteger, nullable=False),
        sa.Column("money_micros", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_flows")
    op.drop_table("report_usage_total")
    op.drop_index("ix_report_usage_month_wallet", "report_usage_month")
    op.drop_table("report_usage_month")
    op.drop_index("ix_report_usage_wallet", "report_usage")
    op.drop_table("report_usage")
