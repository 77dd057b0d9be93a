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
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_usage",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("wallet_id", sa.String(200), primary_key=True),
        sa.Column("member", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("mode", sa.String(40), primary_key=True),
        sa.Column("route", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(8), primary_key=True),
        sa.Column("jobs", sa.BigInteger, nullable=False),
        sa.Column("succeeded", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.BigInteger, nullable=False),
        sa.Column("timed_out", sa.BigInteger, nullable=False),
        sa.Column("late_succeeded", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("written_off", sa.BigInteger, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("uncosted", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_report_usage_wallet", "report_usage", ["wallet_id", "day"])
    op.create_table(
        "report_usage_month",
        sa.Column("day", sa.String(10), primary_key=True),  # the month's first day
        sa.Column("wallet_id", sa.String(200), primary_key=True),
        sa.Column("member", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("mode", sa.String(40), primary_key=True),
        sa.Column("route", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(8), primary_key=True),
        sa.Column("jobs", sa.BigInteger, nullable=False),
        sa.Column("succeeded", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.BigInteger, nullable=False),
        sa.Column("timed_out", sa.BigInteger, nullable=False),
        sa.Column("late_succeeded", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("written_off", sa.BigInteger, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("uncosted", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_report_usage_month_wallet", "report_usage_month", ["wallet_id", "day"])
    op.create_table(
        "report_usage_total",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("mode", sa.String(40), primary_key=True),
        sa.Column("route", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(8), primary_key=True),
        sa.Column("jobs", sa.BigInteger, nullable=False),
        sa.Column("succeeded", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.BigInteger, nullable=False),
        sa.Column("timed_out", sa.BigInteger, nullable=False),
        sa.Column("late_succeeded", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("written_off", sa.BigInteger, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("uncosted", sa.BigInteger, nullable=False),
    )
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
