"""What makes grants: subscriptions, their granted cycles (one row per subscription and
cycle: the key that makes a tick idempotent), pack purchases, and frozen wallets.

Revision ID: 0006_plans_subscriptions
Revises: 0004_completion_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_plans_subscriptions"
down_revision = "0005_grant_spend_index"

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("ledger_wallets") as batch:
        batch.add_column(sa.Column("frozen", sa.String(300), nullable=True))
    op.create_table(
        "plan_subscriptions",
        sa.Column(
            "wallet_id", sa.String(200), sa.ForeignKey("ledger_wallets.id"), primary_key=True
        ),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("catalog", sa.String(64), nullable=False),
        sa.Column("catalog_version", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("anchor_at", _UTC, nullable=False),
        sa.Column("next_cycle", sa.Integer, nullable=False),
        sa.Column("next_at", _UTC, nullable=False),
        sa.Column("pending_plan", sa.String(64), nullable=True),
        sa.Column("allowance_grants", sa.JSON, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
    )
    op.create_index("ix_plan_subscriptions_id", "plan_subscriptions", ["id"])
    op.create_index("ix_plan_subscriptions_due", "plan_subscriptions", ["state", "next_at"])
    op.create_table(
        "plan_cycles",
        sa.Column("wallet_id", sa.String(200), primary_key=True),
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("starts_at", _UTC, nullable=False),
        sa.Column("ends_at", _UTC, nullable=False),
        sa.Column("granted", sa.BigInteger, nullable=False),
        sa.Column("rolled_over", sa.BigInteger, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
    )
    op.create_index("ix_plan_cycles_subscription", "plan_cycles", ["subscription_id", "number"])
    op.create_table(
        "plan_purchases",
        sa.Column(
            "wallet_id", sa.String(200), sa.ForeignKey("ledger_wallets.id"), primary_key=True
        ),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("pack", sa.String(64), nullable=False),
        sa.Column("catalog_version", sa.String(64), nullable=False),
        sa.Column("price", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("bonus_credits", sa.BigInteger, nullable=False),
        sa.Column("credit_grant_id", sa.String(64), nullable=False),
        sa.Column("bonus_grant_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("taken_back", sa.BigInteger, nullable=False),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
    )
    op.create_index("ix_plan_purchases_id", "plan_purchases", ["id"])


def downgrade() -> None:
    op.drop_table("plan_purchases")
    op.drop_table("plan_cycles")
    op.drop_table("plan_subscriptions")
    with op.batch_alter_table("ledger_wallets") as batch:
        batch.drop_column("frozen")
