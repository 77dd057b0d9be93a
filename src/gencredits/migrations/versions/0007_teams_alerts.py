"""Per-wallet state documents (team settings, members and their usage per cycle, alert
arming) and outbound webhooks (endpoints, the cursor over the outbox, deliveries).

Revision ID: 0007
Revises: 0004_completion_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_teams_alerts"
down_revision = "0006_plans_subscriptions"


def upgrade() -> None:
    op.create_table(
        "ledger_wallet_state",
        sa.Column("wallet_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "ledger_webhook_endpoints",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(300), nullable=False),
        sa.Column("wallet_id", sa.String(200), nullable=True),
        sa.Column("types", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "ledger_webhook_cursor",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("position", sa.String(80), nullable=True),
    )
    op.create_table(
        "ledger_webhook_deliveries",
        sa.Column("endpoint_id", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(80), primary_key=True),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("wallet_id", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_ledger_webhook_deliveries_due", "ledger_webhook_deliveries", ["status", "next_at"]
    )


def downgrade() -> None:
    op.drop_table("ledger_webhook_deliveries")
    op.drop_table("ledger_webhook_cursor")
    op.drop_table("ledger_webhook_endpoints")
    op.drop_table("ledger_wallet_state")
